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
	begins   int // Begin calls
	ends     int // End calls
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
	s.begins++
	var err error
	if len(s.beginErr) > 0 {
		err, s.beginErr = s.beginErr[0], s.beginErr[1:]
	}
	if err == nil || err == ErrReset {
		s.inTx = true
	}
	return err
}
func (s *scripted) End() error   { s.ends++; s.inTx = false; return nil }
func (s *scripted) Close() error { return nil }

const (
	selAP    = "00A4040C0AD392F000260100000001"
	ok       = "9000"
	tokenLbl = "4A504B49415049434354 4F4B454E32 2020202020202020202020202020202020" // JPKIAPICCTOKEN2 + 17 spaces
)

func TestIdentifyMyNumberCard(t *testing.T) {
	s := newScripted(t,
		step{selAP, ok, nil},
		step{"00B08600A0", tokenLbl + ok, nil}, // short EF 06: no SELECT; a short file answers what it has
		step{"00B0880003", "010100" + ok, nil},
	)
	info, err := New(s).Identify()
	if err != nil || info.Kind != KindMyNumber || !info.HasSignCert || !info.HasAuthCert || info.TokenLabel != LabelMyNumber {
		t.Fatalf("%+v %v", info, err)
	}
}

func TestIdentifyNotJPKI(t *testing.T) {
	s := newScripted(t, step{selAP, "6A82", nil},
		step{"00A4040C0AD39210003100010104 08", "6A82", nil},
		step{"00A4040C0AD39210003100010104 02", "6A82", nil})
	info, err := New(s).Identify()
	if err != nil || info.Kind != KindNotJPKI || info.OtherAP != nil {
		t.Fatalf("%+v %v", info, err)
	}
}

// TestIdentifyUnknownJPKI: no JPKI AP, but a My Number Card application answers:
// a My Number Card whose JPKI application this version does not know.
func TestIdentifyUnknownJPKI(t *testing.T) {
	s := newScripted(t, step{selAP, "6A82", nil},
		step{"00A4040C0AD39210003100010104 08", "6A82", nil},
		step{"00A4040C0AD39210003100010104 02", ok, nil})
	info, err := New(s).Identify()
	if err != nil || info.Kind != KindUnknownJPKI || !bytes.Equal(info.OtherAP, AIDCardFaceCheck) {
		t.Fatalf("%+v %v", info, err)
	}
	if !strings.Contains(info.Kind.String(), "does not know") {
		t.Fatalf("kind %q", info.Kind)
	}
}

// TestIdentifyTokenInfoLe: a card that refuses the 160-byte Le of EF 0006 is
// asked again, with the length it names (6C xx) or for the 32-byte label.
func TestIdentifyTokenInfoLe(t *testing.T) {
	for _, tc := range []struct{ sw, again string }{{"6C20", "00B0000020"}, {"6700", "00B0000020"}, {"6B00", "00B0000020"}} {
		t.Run(tc.sw, func(t *testing.T) {
			s := newScripted(t,
				step{selAP, ok, nil},
				step{"00B08600A0", tc.sw, nil},
				step{"00A4020C020006", ok, nil},
				step{"00B00000A0", tc.sw, nil},
				step{tc.again, tokenLbl + ok, nil},
				step{"00B0880003", "8F8F00" + ok, nil},
			)
			info, err := New(s).Identify()
			if err != nil || info.Kind != KindMyNumber || info.TokenLabel != LabelMyNumber {
				t.Fatalf("%+v %v", info, err)
			}
		})
	}
}

// TestIdentifyAndroid: the smartphone certificate's label makes KindAndroid,
// whose authentication certificate needs the PIN; its token-info fields parse.
func TestIdentifyAndroid(t *testing.T) {
	ti := make([]byte, TokenInfoSize)
	copy(ti, "JPKIAPGPSETOKEN                 J-LIS                           JPKI-TEST       1234567890123456")
	ti[99] = 0x0D
	ti[119], ti[123] = 16, 6
	s := newScripted(t,
		step{selAP, ok, nil},
		step{"00B08600A0", hex.EncodeToString(ti) + ok, nil},
		step{"00B0880003", "8F8F00" + ok, nil},
	)
	info, err := New(s).Identify()
	if err != nil || info.Kind != KindAndroid || !info.AuthCertNeedsPIN || !info.HasSignCert {
		t.Fatalf("%+v %v", info, err)
	}
	want := TokenInfo{Length: 160, Label: LabelAndroid, Manufacturer: "J-LIS", Model: "JPKI-TEST",
		Serial: "1234567890123456", HasFields: true, Flags: 0x0D, MaxPINLen: 16, MinPINLen: 6}
	if info.Token != want {
		t.Fatalf("token info %+v, want %+v", info.Token, want)
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
		step{"00B08A0000", h(body[:256]) + ok, nil}, // short EF 0A, first 256 bytes
		step{"00B0010000", h(body[256:512]) + ok, nil},
		step{"00B0020058", h(body[512:600]) + ok, nil},
	)
	got, err := New(s).ReadFile(EFAuthCert)
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("read %d bytes, %v", len(got), err)
	}
}

// TestReadFileShortEFRefused: a card that refuses short-EF addressing is asked
// again through SELECT, and never with a short EF again.
func TestReadFileShortEFRefused(t *testing.T) {
	body := make([]byte, 300)
	body[0], body[1], body[2], body[3] = 0x30, 0x82, 0x01, 0x28
	h := func(b []byte) string { return hex.EncodeToString(b) }
	for _, sw := range []string{"6A86", "6D00", "6A81", "6986"} {
		t.Run(sw, func(t *testing.T) {
			s := newScripted(t,
				step{selAP, ok, nil},
				step{"00B08A0000", sw, nil},
				step{"00A4020C02000A", ok, nil},
				step{"00B0000000", h(body[:256]) + ok, nil},
				step{"00B001002C", h(body[256:]) + ok, nil},
				step{"00A4020C02000B", ok, nil}, // remembered: SELECT from now on
				step{"00B0000000", h(body[:256]) + ok, nil},
				step{"00B001002C", h(body[256:]) + ok, nil},
			)
			c := New(s)
			for _, ef := range []uint16{EFAuthCert, EFAuthCACert} {
				if got, err := c.ReadFile(ef); err != nil || !bytes.Equal(got, body) {
					t.Fatalf("EF %04X: read %d bytes, %v", ef, len(got), err)
				}
			}
		})
	}
}

// TestReadFileCurrentEF: a file that is already the current EF is read without
// SELECT and without a short EF.
func TestReadFileCurrentEF(t *testing.T) {
	body := make([]byte, 200)
	body[0], body[1] = 0x30, 0x81
	body[2] = 197
	h := hex.EncodeToString(body)
	s := newScripted(t,
		step{selAP, ok, nil},
		step{"00B08A0028", h[:80] + ok, nil}, // ReadHead: 40 bytes
		step{"00B08A28A0", h[80:] + ok, nil}, // ReadFile: continues after the cached head, by short EF
	)
	c := New(s)
	if head, err := c.ReadHead(EFAuthCert, 40); err != nil || len(head) != 40 {
		t.Fatalf("head: %d bytes, %v", len(head), err)
	}
	if got, err := c.ReadFile(EFAuthCert); err != nil || !bytes.Equal(got, body) {
		t.Fatalf("read %d bytes, %v", len(got), err)
	}
}

func TestReadFileErrors(t *testing.T) {
	t.Run("signature certificate before login", func(t *testing.T) {
		s := newScripted(t, step{selAP, ok, nil}, step{"00B0810000", "6982", nil})
		if _, err := New(s).ReadFile(EFSignCert); !IsNotLoggedIn(err) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		s := newScripted(t, step{selAP, ok, nil}, step{"00B0810000", "6A82", nil}, step{"00A4020C020001", "6A82", nil})
		if _, err := New(s).ReadFile(EFSignCert); !isStatus(err, ErrFileNotFound) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("removed mid-read", func(t *testing.T) {
		s := newScripted(t, step{selAP, ok, nil},
			step{"00B08A0000", "308205D2" + strings.Repeat("00", 252) + ok, nil}, step{"00B0010000", "", ErrRemoved})
		c := New(s)
		if _, err := c.ReadFile(EFAuthCert); !isErr(err, ErrRemoved) {
			t.Fatalf("got %v", err)
		}
		if c.selected {
			t.Fatal("AP still taken as selected after removal")
		}
	})
	t.Run("hostile length", func(t *testing.T) {
		s := newScripted(t, step{selAP, ok, nil}, step{"00B08A0000", "3082FFFF" + strings.Repeat("00", 252) + ok, nil})
		if _, err := New(s).ReadFile(EFAuthCert); err == nil {
			t.Fatal("a 64 KiB length was accepted")
		}
	})
	t.Run("card returns more than asked", func(t *testing.T) {
		s := newScripted(t, step{selAP, ok, nil}, step{"00B08A0000", "308205D2" + strings.Repeat("00", 253) + ok, nil})
		if _, err := New(s).ReadFile(EFAuthCert); err == nil {
			t.Fatal("257 bytes for Le 256 accepted")
		}
	})
	t.Run("first chunk shorter than the header says", func(t *testing.T) {
		s := newScripted(t, step{selAP, ok, nil}, step{"00B08A0000", "3082012C000000" + ok, nil})
		if _, err := New(s).ReadFile(EFAuthCert); err == nil {
			t.Fatal("7 bytes of a 304-byte file accepted")
		}
	})
	t.Run("card returns nothing", func(t *testing.T) {
		s := newScripted(t, step{selAP, ok, nil},
			step{"00B08A0000", "30820100" + strings.Repeat("00", 252) + ok, nil}, step{"00B0010004", ok, nil})
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
		if c.APDUs() != 0 {
			t.Fatalf("%d APDUs sent", c.APDUs())
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
		if _, err := c.Sign(AuthKey, SchemePKCS1, make([]byte, 51)); !IsNotLoggedIn(err) || c.APDUs() != 0 {
			t.Fatalf("%v, %d APDUs", err, c.APDUs())
		}
	})
	t.Run("login, sign naming the key by short EF, sign again with one APDU naming it again", func(t *testing.T) {
		s := newScripted(t, step{selAP, ok, nil}, step{"00A4020C020018", ok, nil}, step{"002000800431323334", ok, nil},
			step{"802A009733" + di + "00", sig + ok, nil},
			step{"802A009733" + di + "00", sig + ok, nil})
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
	t.Run("short EF refused: SELECT, and SELECT from then on", func(t *testing.T) {
		s := newScripted(t, step{selAP, ok, nil}, step{"00A4020C020018", ok, nil}, step{"002000800431323334", ok, nil},
			step{"802A009733" + di + "00", "6A86", nil},
			step{"00A4020C020017", ok, nil}, step{"802A008033" + di + "00", sig + ok, nil},
			step{"00A4020C020018", ok, nil}, step{"002000800431323334", ok, nil},
			step{"00A4020C020017", ok, nil}, step{"802A008033" + di + "00", sig + ok, nil})
		c := New(s)
		for i := 0; i < 2; i++ {
			if err := c.Verify(AuthKey, []byte("1234")); err != nil {
				t.Fatal(err)
			}
			if out, err := c.Sign(AuthKey, SchemePKCS1, unhex(t, di)); err != nil || len(out) != 256 {
				t.Fatalf("%d: %d bytes, %v", i, len(out), err)
			}
		}
	})
	t.Run("each signature names its key by short EF, whatever was selected before", func(t *testing.T) {
		s := newScripted(t, step{selAP, ok, nil}, step{"00A4020C02001B", ok, nil}, step{"0020008006414243313233", ok, nil},
			step{"802A009A33" + di + "00", sig + ok, nil},
			step{"00A4020C020018", ok, nil}, step{"002000800431323334", ok, nil},
			step{"802A009733" + di + "00", sig + ok, nil},
			step{"802A009A33" + di + "00", sig + ok, nil})
		c := New(s)
		if err := c.Verify(SignKey, []byte("ABC123")); err != nil {
			t.Fatal(err)
		}
		for _, k := range []Key{SignKey, AuthKey, SignKey} {
			if k == AuthKey {
				if err := c.Verify(AuthKey, []byte("1234")); err != nil {
					t.Fatal(err)
				}
			}
			if out, err := c.Sign(k, SchemePKCS1, unhex(t, di)); err != nil || len(out) != 256 {
				t.Fatalf("%v: %d bytes, %v", k, len(out), err)
			}
		}
	})
	t.Run("card dropped the state itself (69 82): asked again through SELECT", func(t *testing.T) {
		s := newScripted(t, step{selAP, ok, nil}, step{"00A4020C020018", ok, nil}, step{"002000800431323334", ok, nil},
			step{"802A009733" + di + "00", "6982", nil},
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

// TestProbeScheme covers every branch of the scheme probe: the control P1 (7F)
// first, P1 04 only when the control was refused as an unknown P1.
func TestProbeScheme(t *testing.T) {
	const (
		selKey = "00A4020C020017"
		ctl    = "802A7F80"
		pss    = "802A0480"
	)
	for _, tc := range []struct {
		name                  string
		steps                 []step
		supported, conclusive bool
		controlSW, schemeSW   uint16
	}{
		{"P1 first, PSS known (67 00: no data)", []step{{selAP, ok, nil}, {selKey, ok, nil}, {ctl, "6A86", nil}, {pss, "6700", nil}},
			true, true, 0x6A86, 0x6700},
		{"P1 first, PSS known (69 82: no PIN)", []step{{selAP, ok, nil}, {selKey, ok, nil}, {ctl, "6A86", nil}, {pss, "6982", nil}},
			true, true, 0x6A86, 0x6982},
		{"P1 first, PSS known (69 85)", []step{{selAP, ok, nil}, {selKey, ok, nil}, {ctl, "6A86", nil}, {pss, "6985", nil}},
			true, true, 0x6A86, 0x6985},
		{"P1 first, no PSS (6A 86)", []step{{selAP, ok, nil}, {selKey, ok, nil}, {ctl, "6A86", nil}, {pss, "6A86", nil}},
			false, true, 0x6A86, 0x6A86},
		{"security first: control 69 82, P1 04 not asked", []step{{selAP, ok, nil}, {selKey, ok, nil}, {ctl, "6982", nil}},
			false, false, 0x6982, 0},
		{"length first: control 67 00, P1 04 not asked", []step{{selAP, ok, nil}, {selKey, ok, nil}, {ctl, "6700", nil}},
			false, false, 0x6700, 0},
		{"control answered 90 00", []step{{selAP, ok, nil}, {selKey, ok, nil}, {ctl, ok, nil}},
			false, false, 0x9000, 0},
		{"control answered 6B 00", []step{{selAP, ok, nil}, {selKey, ok, nil}, {ctl, "6B00", nil}},
			false, false, 0x6B00, 0},
		{"P1 04 answered 90 00 without data", []step{{selAP, ok, nil}, {selKey, ok, nil}, {ctl, "6A86", nil}, {pss, ok, nil}},
			false, false, 0x6A86, 0x9000},
		{"P1 04 answered 6D 00", []step{{selAP, ok, nil}, {selKey, ok, nil}, {ctl, "6A86", nil}, {pss, "6D00", nil}},
			false, false, 0x6A86, 0x6D00},
		{"P1 04 answered 6B 00", []step{{selAP, ok, nil}, {selKey, ok, nil}, {ctl, "6A86", nil}, {pss, "6B00", nil}},
			false, false, 0x6A86, 0x6B00},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := New(newScripted(t, tc.steps...))
			p, err := c.ProbeScheme(AuthKey, SchemePSSSHA256)
			if err != nil {
				t.Fatal(err)
			}
			if p.Supported != tc.supported || p.Conclusive != tc.conclusive || p.ControlSW != tc.controlSW ||
				p.SchemeSW != tc.schemeSW || p.Reason == "" {
				t.Fatalf("probe %+v, want supported=%v conclusive=%v SW %04X/%04X", p, tc.supported, tc.conclusive,
					tc.controlSW, tc.schemeSW)
			}
			if c.LoggedIn(AuthKey) || c.APDUs() != len(tc.steps) {
				t.Fatalf("logged in %v, %d APDUs", c.LoggedIn(AuthKey), c.APDUs())
			}
		})
	}
	t.Run("SupportsScheme is the verdict; the key EF is selected again in each transaction", func(t *testing.T) {
		s := newScripted(t, step{selAP, ok, nil}, step{"00A4020C02001A", ok, nil}, step{ctl, "6A86", nil},
			step{"802A0480", "6700", nil}, step{"00A4020C02001A", ok, nil}, step{ctl, "6A86", nil}, step{"802A0580", "6A86", nil})
		c := New(s)
		if yes, err := c.SupportsScheme(SignKey, SchemePSSSHA256); err != nil || !yes {
			t.Fatalf("P1 04: %v %v", yes, err)
		}
		if yes, err := c.SupportsScheme(SignKey, 0x05); err != nil || yes {
			t.Fatalf("P1 05: %v %v", yes, err)
		}
	})
	t.Run("missing key EF is an error", func(t *testing.T) {
		c := New(newScripted(t, step{selAP, ok, nil}, step{"00A4020C020017", "6A82", nil}))
		if _, err := c.ProbeScheme(AuthKey, SchemePSSSHA256); !isStatus(err, ErrFileNotFound) {
			t.Fatalf("%v", err)
		}
	})
	t.Run("card removed during the control", func(t *testing.T) {
		c := New(newScripted(t, step{selAP, ok, nil}, step{"00A4020C020017", ok, nil}, step{ctl, "", ErrRemoved}))
		if _, err := c.ProbeScheme(AuthKey, SchemePSSSHA256); !isErr(err, ErrRemoved) {
			t.Fatalf("%v", err)
		}
	})
	t.Run("card removed during P1 04", func(t *testing.T) {
		c := New(newScripted(t, step{selAP, ok, nil}, step{"00A4020C020017", ok, nil}, step{ctl, "6A86", nil},
			step{"802A0480", "", ErrRemoved}))
		if p, err := c.ProbeScheme(AuthKey, SchemePSSSHA256); !isErr(err, ErrRemoved) || p.Supported {
			t.Fatalf("%+v %v", p, err)
		}
	})
	t.Run("removed at begin", func(t *testing.T) {
		s := newScripted(t)
		s.beginErr = []error{ErrRemoved}
		if _, err := New(s).ProbeScheme(AuthKey, SchemePSSSHA256); !isErr(err, ErrRemoved) {
			t.Fatalf("%v", err)
		}
	})
}
