package card

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
)

// step is one expected command and the answer the scripted card gives.
type step struct {
	cmd  string // hex, spaces ignored
	resp string // hex; "" with err set gives a transport error
	err  error
}

// scripted is a Transport that replays a transcript and fails the test loudly on
// any command it did not expect, or when the transcript is not used up.
type scripted struct {
	t        *testing.T
	steps    []step
	beginErr []error // returned by successive Begin calls (nil when exhausted)
	inTx     bool
}

func newScripted(t *testing.T, steps ...step) *scripted {
	s := &scripted{t: t, steps: steps}
	t.Cleanup(func() {
		if len(s.steps) > 0 {
			t.Errorf("transcript not used up: next expected %s", s.steps[0].cmd)
		}
		if s.inTx {
			t.Error("transaction left open")
		}
	})
	return s
}

func unhex(t *testing.T, s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q", s)
	}
	return b
}

func (s *scripted) Transmit(cmd []byte) ([]byte, error) {
	s.t.Helper()
	if !s.inTx {
		s.t.Errorf("APDU % X outside a transaction", cmd)
	}
	if len(s.steps) == 0 {
		s.t.Fatalf("unexpected APDU % X (transcript ended)", cmd)
	}
	st := s.steps[0]
	s.steps = s.steps[1:]
	if want := unhex(s.t, st.cmd); !bytes.Equal(cmd, want) {
		s.t.Fatalf("APDU % X, want % X", cmd, want)
	}
	if st.err != nil {
		return nil, st.err
	}
	return unhex(s.t, st.resp), nil
}

func (s *scripted) Begin() error {
	var err error
	if len(s.beginErr) > 0 {
		err, s.beginErr = s.beginErr[0], s.beginErr[1:]
	}
	if err == nil || err == ErrReset {
		s.inTx = true
	}
	return err
}
func (s *scripted) End() error   { s.inTx = false; return nil }
func (s *scripted) Close() error { return nil }

const (
	selAP    = "00A4040C0AD392F000260100000001"
	ok       = "9000"
	tokenLbl = "4A504B49415049434354 4F4B454E32 2020202020202020202020202020202020" // JPKIAPICCTOKEN2 + 17 spaces
)

func TestIdentifyMyNumberCard(t *testing.T) {
	s := newScripted(t,
		step{selAP, ok, nil},
		step{"00A4020C020006", ok, nil},
		step{"00B0000020", tokenLbl + ok, nil},
		step{"00A4020C020008", ok, nil},
		step{"00B0000003", "010100" + ok, nil},
	)
	info, err := New(s).Identify()
	if err != nil || info.Kind != KindMyNumber || !info.HasSignCert || !info.HasAuthCert || info.TokenLabel != LabelMyNumber {
		t.Fatalf("%+v %v", info, err)
	}
}

func TestIdentifyNotJPKI(t *testing.T) {
	s := newScripted(t, step{selAP, "6A82", nil})
	info, err := New(s).Identify()
	if err != nil || info.Kind != KindNotJPKI {
		t.Fatalf("%+v %v", info, err)
	}
}

func TestReadFileChunks(t *testing.T) {
	// a 600-byte DER element: header 30 82 02 54, then content
	body := make([]byte, 600)
	body[0], body[1], body[2], body[3] = 0x30, 0x82, 0x02, 0x54
	for i := 4; i < len(body); i++ {
		body[i] = byte(i)
	}
	h := func(b []byte) string { return hex.EncodeToString(b) }
	s := newScripted(t,
		step{selAP, ok, nil},
		step{"00A4020C02000A", ok, nil},
		step{"00B0000007", h(body[:7]) + ok, nil},
		step{"00B0000700", h(body[7:263]) + ok, nil},
		step{"00B0010700", h(body[263:519]) + ok, nil},
		step{"00B0020751", h(body[519:600]) + ok, nil},
	)
	got, err := New(s).ReadFile(EFAuthCert)
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("read %d bytes, %v", len(got), err)
	}
}

func TestReadFileErrors(t *testing.T) {
	t.Run("signature certificate before login", func(t *testing.T) {
		s := newScripted(t, step{selAP, ok, nil}, step{"00A4020C020001", ok, nil}, step{"00B0000007", "6982", nil})
		if _, err := New(s).ReadFile(EFSignCert); !IsNotLoggedIn(err) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		s := newScripted(t, step{selAP, ok, nil}, step{"00A4020C020001", "6A82", nil})
		if _, err := New(s).ReadFile(EFSignCert); !isStatus(err, ErrFileNotFound) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("removed mid-read", func(t *testing.T) {
		s := newScripted(t, step{selAP, ok, nil}, step{"00A4020C02000A", ok, nil},
			step{"00B0000007", "308205D2308204" + ok, nil}, step{"00B0000700", "", ErrRemoved})
		c := New(s)
		if _, err := c.ReadFile(EFAuthCert); !isErr(err, ErrRemoved) {
			t.Fatalf("got %v", err)
		}
		if c.selected {
			t.Fatal("AP still taken as selected after removal")
		}
	})
	t.Run("hostile length", func(t *testing.T) {
		s := newScripted(t, step{selAP, ok, nil}, step{"00A4020C02000A", ok, nil}, step{"00B0000007", "3082FFFF000000" + ok, nil})
		if _, err := New(s).ReadFile(EFAuthCert); err == nil {
			t.Fatal("a 64 KiB length was accepted")
		}
	})
	t.Run("card returns more than asked", func(t *testing.T) {
		s := newScripted(t, step{selAP, ok, nil}, step{"00A4020C02000A", ok, nil}, step{"00B0000007", "3010000000000000" + ok, nil})
		if _, err := New(s).ReadFile(EFAuthCert); err == nil {
			t.Fatal("8 bytes for Le 7 accepted")
		}
	})
	t.Run("card returns nothing", func(t *testing.T) {
		s := newScripted(t, step{selAP, ok, nil}, step{"00A4020C02000A", ok, nil},
			step{"00B0000007", "30820100000000" + ok, nil}, step{"00B00007FD", ok, nil})
		if _, err := New(s).ReadFile(EFAuthCert); err == nil {
			t.Fatal("empty chunk accepted (would loop)")
		}
	})
}

func TestPINOperations(t *testing.T) {
	t.Run("tries left costs nothing", func(t *testing.T) {
		s := newScripted(t, step{selAP, ok, nil}, step{"00A4020C020018", ok, nil}, step{"00200080", "63C3", nil})
		if n, err := New(s).TriesLeft(AuthKey); err != nil || n != 3 {
			t.Fatalf("%d %v", n, err)
		}
	})
	t.Run("tries left on a blocked PIN", func(t *testing.T) {
		s := newScripted(t, step{selAP, ok, nil}, step{"00A4020C02001B", ok, nil}, step{"00200080", "6984", nil})
		if n, err := New(s).TriesLeft(SignKey); err != nil || n != 0 {
			t.Fatalf("%d %v", n, err)
		}
	})
	t.Run("malformed PIN sends nothing", func(t *testing.T) {
		s := newScripted(t)
		c := New(s)
		for _, p := range []string{"123", "12345", "abcd", ""} {
			if err := c.Verify(AuthKey, []byte(p)); !isErr(err, ErrPINFormat) {
				t.Errorf("%q: %v", p, err)
			}
		}
		if err := c.Verify(SignKey, []byte("AB#123")); !isErr(err, ErrPINFormat) {
			t.Errorf("sign: %v", err)
		}
		if c.APDUs != 0 {
			t.Fatalf("%d APDUs sent", c.APDUs)
		}
	})
	t.Run("wrong PIN: one VERIFY, tries reported, no retry", func(t *testing.T) {
		s := newScripted(t, step{selAP, ok, nil}, step{"00A4020C020018", ok, nil}, step{"002000800431323335", "63C2", nil})
		c := New(s)
		err := c.Verify(AuthKey, []byte("1235"))
		var se StatusError
		if !isErr(err, ErrWrongPIN) || !asStatus(err, &se) {
			t.Fatalf("got %v", err)
		}
		if n, _ := se.TriesLeft(); n != 2 || c.LoggedIn(AuthKey) {
			t.Fatalf("tries %d, logged in %v", n, c.LoggedIn(AuthKey))
		}
	})
	t.Run("blocked", func(t *testing.T) {
		s := newScripted(t, step{selAP, ok, nil}, step{"00A4020C020018", ok, nil}, step{"002000800431323334", "6984", nil})
		if err := New(s).Verify(AuthKey, []byte("1234")); !isErr(err, ErrPINBlocked) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("sign password folded to upper case", func(t *testing.T) {
		s := newScripted(t, step{selAP, ok, nil}, step{"00A4020C02001B", ok, nil}, step{"0020008006414243313233", ok, nil})
		c := New(s)
		if err := c.Verify(SignKey, []byte("abc123")); err != nil || !c.LoggedIn(SignKey) {
			t.Fatalf("%v", err)
		}
	})
	t.Run("change PIN", func(t *testing.T) {
		s := newScripted(t, step{selAP, ok, nil}, step{"00A4020C020018", ok, nil},
			step{"002000800431323334", ok, nil}, step{"002401800439383736", ok, nil})
		if err := New(s).ChangePIN(AuthKey, []byte("1234"), []byte("9876")); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("change PIN with a malformed new PIN sends nothing", func(t *testing.T) {
		c := New(newScripted(t))
		if err := c.ChangePIN(AuthKey, []byte("1234"), []byte("98765")); !isErr(err, ErrPINFormat) {
			t.Fatal(err)
		}
	})
}

func TestSign(t *testing.T) {
	di := strings.Repeat("AB", 51)
	sig := strings.Repeat("5A", 256)
	t.Run("not logged in sends nothing", func(t *testing.T) {
		c := New(newScripted(t))
		if _, err := c.Sign(AuthKey, SchemePKCS1, make([]byte, 51)); !IsNotLoggedIn(err) || c.APDUs != 0 {
			t.Fatalf("%v, %d APDUs", err, c.APDUs)
		}
	})
	t.Run("login, sign, sign again with one APDU", func(t *testing.T) {
		s := newScripted(t, step{selAP, ok, nil}, step{"00A4020C020018", ok, nil}, step{"002000800431323334", ok, nil},
			step{"00A4020C020017", ok, nil}, step{"802A008033" + di + "00", sig + ok, nil},
			step{"802A008033" + di + "00", sig + ok, nil})
		c := New(s)
		if err := c.Verify(AuthKey, []byte("1234")); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 2; i++ {
			out, err := c.Sign(AuthKey, SchemePKCS1, unhex(t, di))
			if err != nil || len(out) != 256 {
				t.Fatalf("%d bytes, %v", len(out), err)
			}
		}
	})
	t.Run("reset by another application: login lost, nothing signed", func(t *testing.T) {
		s := newScripted(t, step{selAP, ok, nil}, step{"00A4020C020018", ok, nil}, step{"002000800431323334", ok, nil})
		c := New(s)
		if err := c.Verify(AuthKey, []byte("1234")); err != nil {
			t.Fatal(err)
		}
		e := c.Epoch()
		s.beginErr = []error{ErrReset}
		if _, err := c.Sign(AuthKey, SchemePKCS1, unhex(t, di)); !IsNotLoggedIn(err) || c.Epoch() == e {
			t.Fatalf("%v epoch %d->%d", err, e, c.Epoch())
		}
	})
	t.Run("card dropped the state itself (69 82)", func(t *testing.T) {
		s := newScripted(t, step{selAP, ok, nil}, step{"00A4020C020018", ok, nil}, step{"002000800431323334", ok, nil},
			step{"00A4020C020017", ok, nil}, step{"802A008033" + di + "00", "6982", nil})
		c := New(s)
		_ = c.Verify(AuthKey, []byte("1234"))
		if _, err := c.Sign(AuthKey, SchemePKCS1, unhex(t, di)); !IsNotLoggedIn(err) || c.LoggedIn(AuthKey) {
			t.Fatalf("%v", err)
		}
	})
	t.Run("input too long", func(t *testing.T) {
		c := New(newScripted(t))
		if _, err := c.Sign(AuthKey, SchemePKCS1, make([]byte, 246)); err == nil {
			t.Fatal("246 bytes accepted")
		}
	})
	t.Run("logout of the last key reselects the AP", func(t *testing.T) {
		s := newScripted(t, step{selAP, ok, nil}, step{"00A4020C020018", ok, nil}, step{"002000800431323334", ok, nil},
			step{selAP, ok, nil})
		c := New(s)
		_ = c.Verify(AuthKey, []byte("1234"))
		if err := c.Logout(AuthKey); err != nil || c.LoggedIn(AuthKey) {
			t.Fatal(err)
		}
	})
	t.Run("removed at begin", func(t *testing.T) {
		s := newScripted(t)
		s.beginErr = []error{ErrRemoved}
		if _, err := New(s).TriesLeft(AuthKey); !isErr(err, ErrRemoved) {
			t.Fatal(err)
		}
	})
}
