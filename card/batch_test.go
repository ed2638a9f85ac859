package card

import (
	"errors"
	"strings"
	"testing"
)

func TestBatch(t *testing.T) {
	di := strings.Repeat("AB", 51)
	sig := strings.Repeat("5A", 256)
	login := []step{{selAP, ok, nil}, {"00A4020C020018", ok, nil}, {"002000800431323334", ok, nil}}
	loggedIn := func(t *testing.T, s *scripted) *Card {
		c := New(s)
		if err := c.Verify(AuthKey, []byte("1234")); err != nil {
			t.Fatal(err)
		}
		s.begins, s.ends = 0, 0
		return c
	}
	t.Run("three signatures share one transaction; the key EF stays current", func(t *testing.T) {
		s := newScripted(t, append(login,
			step{"802A009733" + di + "00", sig + ok, nil},
			step{"802A008033" + di + "00", sig + ok, nil},
			step{"802A008033" + di + "00", sig + ok, nil})...)
		c := loggedIn(t, s)
		c.Batch(func() {
			for i := 0; i < 3; i++ {
				if out, err := c.Sign(AuthKey, SchemePKCS1, unhex(t, di)); err != nil || len(out) != 256 {
					t.Fatalf("%d: %d bytes, %v", i, len(out), err)
				}
				if !s.inTx {
					t.Fatal("transaction ended inside the batch")
				}
			}
		})
		if s.begins != 1 || s.ends != 1 {
			t.Fatalf("%d Begin, %d End; want 1 and 1", s.begins, s.ends)
		}
	})
	t.Run("a batch that sends nothing begins nothing", func(t *testing.T) {
		s := newScripted(t)
		c := New(s)
		c.Batch(func() {
			if _, err := c.Sign(AuthKey, SchemePKCS1, unhex(t, di)); !IsNotLoggedIn(err) {
				t.Fatal(err)
			}
		})
		if s.begins != 0 || s.ends != 0 {
			t.Fatalf("%d Begin, %d End; want none", s.begins, s.ends)
		}
	})
	t.Run("a refused transaction fails every operation once, without asking again", func(t *testing.T) {
		s := newScripted(t, login...)
		c := loggedIn(t, s)
		s.beginErr = []error{ErrTimeout}
		c.Batch(func() {
			for i := 0; i < 3; i++ {
				if _, err := c.Sign(AuthKey, SchemePKCS1, unhex(t, di)); !errors.Is(err, ErrTimeout) {
					t.Fatalf("%d: %v", i, err)
				}
			}
		})
		if s.begins != 1 || s.ends != 0 {
			t.Fatalf("%d Begin, %d End; want 1 and 0", s.begins, s.ends)
		}
		if !c.LoggedIn(AuthKey) {
			t.Fatal("a busy card dropped the login")
		}
	})
	t.Run("a transport error ends the shared transaction; the next operation begins its own", func(t *testing.T) {
		s := newScripted(t, append(login,
			step{"802A009733" + di + "00", "", ErrReset},
			step{selAP, ok, nil}, step{"00B08A0020", "30820100" + strings.Repeat("00", 28) + ok, nil})...)
		c := loggedIn(t, s)
		c.Batch(func() {
			if _, err := c.Sign(AuthKey, SchemePKCS1, unhex(t, di)); !errors.Is(err, ErrReset) {
				t.Fatalf("first: %v", err)
			}
			if s.inTx {
				t.Fatal("the broken transaction was kept")
			}
			if _, err := c.Sign(AuthKey, SchemePKCS1, unhex(t, di)); !IsNotLoggedIn(err) {
				t.Fatalf("after the reset: %v", err)
			}
			if _, err := c.ReadHead(EFAuthCert, 32); err != nil {
				t.Fatalf("read after the reset: %v", err)
			}
		})
		if s.begins != 2 || s.ends != 2 {
			t.Fatalf("%d Begin, %d End; want 2 and 2", s.begins, s.ends)
		}
	})
}
