package vcard

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jpki-pkcs11/jpki-pkcs11/card"
)

func TestCardLayerOverTransport(t *testing.T) {
	vc := memCard(t, Options{})
	tr := NewTransport(vc)
	c := card.New(tr)
	info, err := c.Identify()
	if err != nil || info.Kind != card.KindMyNumber || info.TokenLabel != card.LabelMyNumber {
		t.Fatalf("identify: %+v %v", info, err)
	}
	cert, err := c.ReadFile(card.EFAuthCert)
	if err != nil || len(cert) != len(vc.Status().AuthCert) {
		t.Fatalf("read auth cert: %d bytes, %v", len(cert), err)
	}
	if _, err := c.ReadFile(card.EFSignCert); !errors.Is(err, card.ErrNotLoggedIn) {
		t.Fatalf("sign cert before PIN: %v", err)
	}
	if err := c.Verify(card.AuthKey, []byte("0000")); !errors.Is(err, card.ErrWrongPIN) {
		t.Fatalf("wrong PIN: %v", err)
	}
	if n, err := c.TriesLeft(card.AuthKey); n != 2 || err != nil {
		t.Fatalf("tries %d %v", n, err)
	}
	if err := c.Verify(card.AuthKey, []byte("1234")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Sign(card.AuthKey, card.SchemePKCS1, append(sha256Prefix, make([]byte, 32)...)); err != nil {
		t.Fatal(err)
	}

	// Removal: ErrRemoved, then works again after Insert (security state lost).
	tr.(*Transport).Remove()
	if _, err := c.TriesLeft(card.AuthKey); !errors.Is(err, card.ErrRemoved) {
		t.Fatalf("removed: %v", err)
	}
	tr.(*Transport).Insert()
	if _, err := c.Sign(card.AuthKey, card.SchemePKCS1, []byte{1}); !errors.Is(err, card.ErrNotLoggedIn) {
		t.Fatalf("after reinsertion: %v", err)
	}
	if err := c.Verify(card.AuthKey, []byte("1234")); err != nil {
		t.Fatal(err)
	}
	// Reset by another application: Begin reports it, card layer re-selects.
	e := c.Epoch()
	tr.(*Transport).Reset()
	if n, err := c.TriesLeft(card.AuthKey); n != 3 || err != nil {
		t.Fatalf("after reset: %d %v", n, err)
	}
	if c.Epoch() == e || c.LoggedIn(card.AuthKey) {
		t.Fatal("reset not seen")
	}
}

func TestSystem(t *testing.T) {
	s := NewSystem()
	if _, err := s.Readers(); !errors.Is(err, card.ErrNoReader) {
		t.Fatalf("no readers: %v", err)
	}
	s.AddReader("R0")
	if _, err := s.Connect("R0"); !errors.Is(err, card.ErrNoCard) {
		t.Fatalf("empty reader: %v", err)
	}
	st, _ := s.Status([]string{"R0"})
	done := make(chan error, 1)
	go func() { done <- s.Wait(context.Background(), st) }()
	vc := memCard(t, Options{})
	s.Insert("R0", vc)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Wait did not see the insertion")
	}
	st2, _ := s.Status([]string{"R0"})
	if !st2[0].Present || st2[0].Events == st[0].Events || len(st2[0].ATR) == 0 {
		t.Fatalf("status %+v", st2[0])
	}
	tr, err := s.Connect("R0")
	if err != nil {
		t.Fatal(err)
	}
	c := card.New(tr)
	if _, err := c.Identify(); err != nil {
		t.Fatal(err)
	}
	// Another application's reset.
	s.Reset("R0")
	if err := tr.Begin(); !errors.Is(err, card.ErrReset) {
		t.Fatalf("begin after reset: %v", err)
	}
	_ = tr.End()
	// Transactions exclude each other.
	tr2, _ := s.Connect("R0")
	if err := tr.Begin(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	go func() { time.Sleep(100 * time.Millisecond); _ = tr.End() }()
	if err := tr2.Begin(); err != nil || time.Since(start) < 90*time.Millisecond {
		t.Fatalf("second transaction: %v after %v", err, time.Since(start))
	}
	_ = tr2.End()
	s.Remove("R0")
	if _, err := tr.Transmit([]byte{0, 0x84, 0, 0, 8}); !errors.Is(err, card.ErrRemoved) {
		t.Fatalf("after removal: %v", err)
	}
	s.Insert("R0", vc)
	if err := tr.Begin(); !errors.Is(err, card.ErrRemoved) {
		t.Fatalf("old connection after reinsertion: %v", err)
	}
	tr3, err := s.Connect("R0")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := card.New(tr3).Identify(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	st3, _ := s.Status([]string{"R0"})
	if err := s.Wait(ctx, st3); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("wait without change: %v", err)
	}
	_ = s.Close()
	if _, err := s.Readers(); !errors.Is(err, card.ErrServiceGone) {
		t.Fatalf("closed: %v", err)
	}
}
