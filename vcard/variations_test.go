package vcard

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jpki-pkcs11/jpki-pkcs11/card"
)

// TestPhoneAndroid: the Android smartphone certificate's label, its contactless
// ATR, and its authentication certificate readable only after the
// authentication PIN; through the card layer: KindAndroid, the certificate needs
// the PIN (card.ErrNotLoggedIn) until Verify.
func TestPhoneAndroid(t *testing.T) {
	c := memCard(t, Options{Phone: PhoneAndroid})
	if !bytes.Equal(c.ATR(), ATRPhone) {
		t.Fatalf("ATR % X", c.ATR())
	}
	run(t, c, []step{{selAP, 0x9000, 0}, {"00B0860020", 0x9000, 32}, {"00B08A0004", 0x6982, 0},
		{"00B08B0004", 0x9000, 4}, {"00B0810004", 0x6982, 0}, {"00200098" + ascii("1234"), 0x9000, 0},
		{"00B08A0004", 0x9000, 4}})
	cc := card.New(NewTransport(c))
	info, err := cc.Identify()
	if err != nil || info.Kind != card.KindAndroid || !info.AuthCertNeedsPIN || info.TokenLabel != card.LabelAndroid {
		t.Fatalf("%+v %v", info, err)
	}
	if _, err := cc.ReadFile(card.EFAuthCert); !card.IsNotLoggedIn(err) {
		t.Fatalf("authentication certificate before the PIN: %v", err)
	}
	if err := cc.Verify(card.AuthKey, []byte("1234")); err != nil {
		t.Fatal(err)
	}
	if der, err := cc.ReadFile(card.EFAuthCert); err != nil || !bytes.Equal(der, c.Status().AuthCert) {
		t.Fatalf("authentication certificate after the PIN: %v", err)
	}
	ios, err := card.New(NewTransport(memCard(t, Options{Phone: PhoneIOS}))).Identify()
	if err != nil || ios.Kind != card.KindIPhone {
		t.Fatalf("iPhone label: %+v %v", ios, err)
	}
}

// TestQuirkVerify9000: the tries query answers 90 00 while the PIN is verified,
// 63 Cx otherwise; the card layer counts the full tries and keeps the login.
func TestQuirkVerify9000(t *testing.T) {
	c := memCard(t, Options{Quirks: []string{QuirkVerify9000}})
	run(t, c, []step{{selAP, 0x9000, 0}, {selAuthPIN, 0x9000, 0}, {"00200080", 0x63C3, 0},
		{"00200080" + ascii("1234"), 0x9000, 0}, {"00200080", 0x9000, 0}, {selSignPIN, 0x9000, 0}, {"00200080", 0x63C5, 0}})
	plain := memCard(t, Options{})
	run(t, plain, []step{{selAP, 0x9000, 0}, {selAuthPIN, 0x9000, 0}, {"00200080" + ascii("1234"), 0x9000, 0}, {"00200080", 0x63C3, 0}})
	cc := card.New(NewTransport(c))
	if err := cc.Verify(card.AuthKey, []byte("1234")); err != nil {
		t.Fatal(err)
	}
	if n, err := cc.TriesLeft(card.AuthKey); n != 3 || err != nil || !cc.LoggedIn(card.AuthKey) {
		t.Fatalf("tries %d %v, logged in %v", n, err, cc.LoggedIn(card.AuthKey))
	}
	sum := sha256.Sum256([]byte("x"))
	if _, err := cc.Sign(card.AuthKey, card.SchemePSSSHA256, sum[:]); err != nil {
		t.Fatalf("sign after the tries query: %v", err)
	}
}

// TestQuirkBlocked63C0: the tries query of a blocked PIN answers 63 C0, a VERIFY
// with a PIN 69 84; the card layer says 0 tries and blocked.
func TestQuirkBlocked63C0(t *testing.T) {
	for _, tc := range []struct {
		quirks []string
		empty  uint16
	}{{nil, 0x6984}, {[]string{QuirkBlocked63C0}, 0x63C0}} {
		c := memCard(t, Options{Quirks: tc.quirks})
		cc := card.New(NewTransport(c))
		for range 3 {
			cc.Verify(card.AuthKey, []byte("0000"))
		}
		run(t, c, []step{{selAP, 0x9000, 0}, {selAuthPIN, 0x9000, 0}, {"00200080", tc.empty, 0}, {"00200080" + ascii("1234"), 0x6984, 0}})
		if n, err := cc.TriesLeft(card.AuthKey); n != 0 || err != nil {
			t.Fatalf("%v: tries %d %v", tc.quirks, n, err)
		}
		var pe *card.PINError
		if err := cc.Verify(card.AuthKey, []byte("1234")); !errors.Is(err, card.ErrPINBlocked) || !errors.As(err, &pe) {
			t.Fatalf("%v: verify on a blocked PIN: %v", tc.quirks, err)
		}
	}
}

// TestQuirkLen6985: wrong signature input lengths answer 69 85; the PSS probe
// stays conclusive: PSS on a card with it, not on a card without.
func TestQuirkLen6985(t *testing.T) {
	c := memCard(t, Options{Quirks: []string{QuirkLen6985}})
	run(t, c, []step{{selAP, 0x9000, 0}, {selAuthKey, 0x9000, 0}, {"802A0080", 0x6985, 0}, {"802A0480", 0x6985, 0},
		{"802A7F80", 0x6A86, 0}, {selAuthPIN, 0x9000, 0}, {"00200080" + ascii("1234"), 0x9000, 0},
		{"802A0497 03 010203 00", 0x6985, 0}})
	for _, tc := range []struct {
		o   Options
		pss bool
	}{{Options{Quirks: []string{QuirkLen6985}}, true}, {Options{Quirks: []string{QuirkLen6985}, NoPSS: true}, false}} {
		p, err := card.New(NewTransport(memCard(t, tc.o))).ProbeScheme(card.AuthKey, card.SchemePSSSHA256)
		if err != nil || !p.Conclusive || p.Supported != tc.pss {
			t.Fatalf("%+v: probe %+v %v", tc.o, p, err)
		}
	}
}

// TestQuirkNoShortEF: short-EF references answer 6A 86; the card layer reads
// through SELECT and, having seen that, never names a key by short EF.
func TestQuirkNoShortEF(t *testing.T) {
	c := memCard(t, Options{Quirks: []string{QuirkNoShortEF}})
	run(t, c, []step{{selAP, 0x9000, 0}, {"00B08A0004", 0x6A86, 0}, {"00200098", 0x6A86, 0},
		{"802A0097 03 010203 00", 0x6A86, 0}, {"00A4020C02 000A", 0x9000, 0}, {"00B0000004", 0x9000, 4}})
	var cmds [][]byte
	c.SetAPDULog(func(cmd, _ []byte) { cmds = append(cmds, bytes.Clone(cmd)) })
	cc := card.New(NewTransport(c))
	if _, err := cc.Identify(); err != nil {
		t.Fatal(err)
	}
	if der, err := cc.ReadFile(card.EFAuthCert); err != nil || !bytes.Equal(der, c.Status().AuthCert) {
		t.Fatalf("read: %v", err)
	}
	if err := cc.Verify(card.AuthKey, []byte("1234")); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("x"))
	if _, err := cc.Sign(card.AuthKey, card.SchemePSSSHA256, sum[:]); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range cmds {
		if cmd[0] == 0x80 && cmd[1] == 0x2A && cmd[3]&0x1F != 0 {
			t.Fatalf("a short-EF signature command after the refused READ BINARY: % X", cmd)
		}
	}
	if a := cc.Addressing(); a.ShortEFRead != card.VerdictRefused {
		t.Fatalf("addressing %+v", a)
	}
}

// TestQuirkNoJPKIAP: no JPKI application; the My Number Card's others answer.
func TestQuirkNoJPKIAP(t *testing.T) {
	c := memCard(t, Options{Quirks: []string{QuirkNoJPKIAP}})
	run(t, c, []step{{selAP, 0x6A82, 0}, {"00A4040C0A D3921000310001010408", 0x9000, 0}})
	info, err := card.New(NewTransport(c)).Identify()
	if err != nil || info.Kind != card.KindUnknownJPKI {
		t.Fatalf("%+v %v", info, err)
	}
}

// TestEF0008Option: EF 0008 as given (default 8F 8F 00), and an unexplained
// value taken as present.
func TestEF0008Option(t *testing.T) {
	for _, tc := range []struct {
		o         Options
		want      []byte
		sign, odd bool
	}{
		{Options{}, []byte{0x8F, 0x8F, 0x00}, true, false},
		{Options{Under15: true}, []byte{0x00, 0x8F, 0x00}, false, false},
		{Options{EF0008: []byte{0x40, 0x40, 0x00}}, []byte{0x40, 0x40, 0x00}, true, true},
	} {
		info, err := card.New(NewTransport(memCard(t, tc.o))).Identify()
		if err != nil || !bytes.Equal(info.Presence, tc.want) || info.HasSignCert != tc.sign || card.PresenceUnexplained(info.Presence) != tc.odd {
			t.Fatalf("%+v: %+v %v", tc.o, info, err)
		}
	}
}

// TestVariationOptions: unknown quirks and impossible combinations are refused;
// a card directory keeps its variations.
func TestVariationOptions(t *testing.T) {
	for _, o := range []Options{{Quirks: []string{"no-such-quirk"}}, {Phone: "nokia"}, {Phone: PhoneAndroid, Juki: true},
		{EF0008: []byte{}}, {TokenSerial: strings.Repeat("1", 17)}} {
		if _, err := NewInMemory(o); !errors.Is(err, ErrOptions) {
			t.Errorf("%+v accepted: %v", o, err)
		}
	}
	dir := filepath.Join(t.TempDir(), "card")
	o := Options{Phone: PhoneAndroid, Quirks: []string{QuirkLen6985, QuirkNoShortEF, QuirkLen6985}, EF0008: []byte{0x8F, 0x8F, 0x01}}
	if err := Create(dir, o); err != nil {
		t.Fatal(err)
	}
	c, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	st := c.Status().Options
	if st.Phone != PhoneAndroid || len(st.Quirks) != 2 || !st.HasQuirk(QuirkNoShortEF) || !bytes.Equal(st.EF0008, o.EF0008) || len(st.TokenSerial) != 16 {
		t.Fatalf("reopened: %+v", st)
	}
	if _, err := os.Stat(filepath.Join(dir, FileState)); err != nil {
		t.Fatal(err)
	}
}
