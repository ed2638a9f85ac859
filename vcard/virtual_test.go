package vcard

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jpki-pkcs11/jpki-pkcs11/card"
)

func h(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

func swOf(r []byte) uint16 { return uint16(r[len(r)-2])<<8 | uint16(r[len(r)-1]) }

const (
	selAP      = "00A4040C0A D392F000260100000001"
	selAuthPIN = "00A4020C02 0018"
	selSignPIN = "00A4020C02 001B"
	selAuthKey = "00A4020C02 0017"
	selSignKey = "00A4020C02 001A"
)

func ascii(s string) string {
	return hex.EncodeToString([]byte{byte(len(s))}) + hex.EncodeToString([]byte(s))
}

func memCard(t *testing.T, o Options) *Card {
	t.Helper()
	c, err := NewInMemory(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// step is one command and the status word it must get.
type step struct {
	cmd string
	sw  uint16
	n   int // expected response data length; -1: any
}

func run(t *testing.T, c *Card, steps []step) [][]byte {
	t.Helper()
	var out [][]byte
	for i, s := range steps {
		r := c.Process(h(s.cmd))
		if got := swOf(r); got != s.sw {
			t.Fatalf("step %d %s: SW %04X, want %04X", i, s.cmd, got, s.sw)
		}
		if s.n >= 0 && len(r)-2 != s.n {
			t.Fatalf("step %d %s: %d data bytes, want %d", i, s.cmd, len(r)-2, s.n)
		}
		out = append(out, r[:len(r)-2])
	}
	return out
}

func TestCommands(t *testing.T) {
	c := memCard(t, Options{})
	st := c.Status()
	authLen := len(st.AuthCert)
	signLen := len(st.SignCert)
	tests := []struct {
		name  string
		steps []step
	}{
		{"select JPKI AP", []step{{selAP, 0x9000, 0}}},
		{"select unknown AP", []step{{"00A4040C0A D392F000260100000002", 0x6A82, 0}}},
		{"select other AP of the card", []step{{"00A4040C0A D392100031000101040 8", 0x9000, 0}, {"00A4020C02 000A", 0x6A82, 0}}},
		{"select unknown AP with Le", []step{{"00A4040C07 A0000000790100 00", 0x6A82, 0}}},
		{"select JPKI AP with Le", []step{{selAP + "00", 0x9000, 0}}},
		{"select AP wrong P2", []step{{"00A40400 0A D392F000260100000001", 0x6A86, 0}}},
		{"select MF style P1=00", []step{{selAP, 0x9000, 0}, {"00A4000C02 3F00", 0x6A86, 0}}},
		{"select EF without AP", []step{{"00A4020C02 000A", 0x6A82, 0}}},
		{"select missing EF", []step{{selAP, 0x9000, 0}, {"00A4020C02 0003", 0x6A82, 0}}},
		{"select EF with Lc 3", []step{{selAP, 0x9000, 0}, {"00A4020C03 000A00", 0x6700, 0}}},
		{"Lc larger than data", []step{{"00A4020C05 000A", 0x6700, 0}}},
		{"read token info", []step{{selAP, 0x9000, 0}, {"00A4020C02 0006", 0x9000, 0}, {"00B0000020", 0x9000, 32}}},
		{"read presence", []step{{selAP, 0x9000, 0}, {"00A4020C02 0008", 0x9000, 0}, {"00B0000000", 0x9000, 3}}},
		{"read auth cert Le 00", []step{{selAP, 0x9000, 0}, {"00A4020C02 000A", 0x9000, 0}, {"00B0000000", 0x9000, 256}}},
		{"read past the end", []step{{selAP, 0x9000, 0}, {"00A4020C02 000A", 0x9000, 0}, {"00B07F0000", 0x6B00, 0}}},
		{"read short at the end", []step{{selAP, 0x9000, 0}, {"00A4020C02 000A", 0x9000, 0},
			{hex.EncodeToString([]byte{0, 0xB0, byte((authLen - 10) >> 8), byte(authLen - 10), 0}), 0x9000, 10}}},
		{"read without Le", []step{{selAP, 0x9000, 0}, {"00A4020C02 000A", 0x9000, 0}, {"00B00000", 0x6700, 0}}},
		{"read without EF", []step{{selAP, 0x9000, 0}, {"00B0000004", 0x6986, 0}}},
		{"read sign cert before PIN", []step{{selAP, 0x9000, 0}, {"00A4020C02 0001", 0x9000, 0}, {"00B0000004", 0x6982, 0}}},
		{"read sign cert after PIN", []step{{selAP, 0x9000, 0}, {selSignPIN, 0x9000, 0}, {"00200080" + ascii("ABC123"), 0x9000, 0},
			{"00A4020C02 0001", 0x9000, 0}, {"00B0000004", 0x9000, 4}}},
		{"read sign CA free", []step{{selAP, 0x9000, 0}, {"00A4020C02 0002", 0x9000, 0}, {"00B0000004", 0x9000, 4}}},
		{"short EF read 8A", []step{{selAP, 0x9000, 0}, {"00B08A0004", 0x9000, 4}}},
		{"short EF read missing", []step{{selAP, 0x9000, 0}, {"00B0830004", 0x6A82, 0}}},
		{"read key EF", []step{{selAP, 0x9000, 0}, {selAuthKey, 0x9000, 0}, {"00B0000004", 0x6981, 0}}},
		{"tries left auth", []step{{selAP, 0x9000, 0}, {selAuthPIN, 0x9000, 0}, {"00200080", 0x63C3, 0}}},
		{"tries left sign", []step{{selAP, 0x9000, 0}, {selSignPIN, 0x9000, 0}, {"00200080", 0x63C5, 0}}},
		{"tries left short EF", []step{{selAP, 0x9000, 0}, {"00200098", 0x63C3, 0}, {"0020009B", 0x63C5, 0}}},
		{"verify on a non-PIN EF", []step{{selAP, 0x9000, 0}, {"00A4020C02 000A", 0x9000, 0}, {"00200080" + ascii("1234"), 0x6981, 0}}},
		{"verify good then tries still 63C3", []step{{selAP, 0x9000, 0}, {selAuthPIN, 0x9000, 0}, {"00200080" + ascii("1234"), 0x9000, 0}, {"00200080", 0x63C3, 0}}},
		{"sign without PIN", []step{{selAP, 0x9000, 0}, {selAuthKey, 0x9000, 0}, {"802A0080 03 010203 00", 0x6982, 0}}},
		{"sign unknown P1", []step{{selAP, 0x9000, 0}, {selAuthKey, 0x9000, 0}, {"802A0680 03 010203 00", 0x6A86, 0}}},
		{"sign on a cert EF", []step{{selAP, 0x9000, 0}, {"00A4020C02 000A", 0x9000, 0}, {"802A0080 03 010203 00", 0x6981, 0}}},
		{"sign P2 wrong", []step{{selAP, 0x9000, 0}, {selAuthKey, 0x9000, 0}, {"802A0000 03 010203 00", 0x6A86, 0}}},
		{"change PIN without verify", []step{{selAP, 0x9000, 0}, {selAuthPIN, 0x9000, 0}, {"00240180" + ascii("5678"), 0x6982, 0}}},
		{"unknown INS", []step{{"00CA000000", 0x6D00, 0}}},
		{"unknown CLA", []step{{"A0A4020C02 000A", 0x6E00, 0}}},
		{"CLA 80 unknown INS", []step{{"80B0000004", 0x6D00, 0}}},
		{"extended length refused", []step{{"00B0000000 0004", 0x6700, 0}}},
		{"get challenge", []step{{"0084000008", 0x9000, 8}}},
		{"get challenge no Le", []step{{"00840000", 0x6700, 0}}},
		{"AP reselect loses PIN", []step{{selAP, 0x9000, 0}, {selSignPIN, 0x9000, 0}, {"00200080" + ascii("ABC123"), 0x9000, 0},
			{selAP, 0x9000, 0}, {"00B0810004", 0x6982, 0}}},
		{"EF select keeps PIN", []step{{selAP, 0x9000, 0}, {selSignPIN, 0x9000, 0}, {"00200080" + ascii("ABC123"), 0x9000, 0},
			{"00A4020C02 000A", 0x9000, 0}, {"00B0810004", 0x9000, 4}}},
	}
	_ = signLen
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c.Reset()
			run(t, c, tc.steps)
		})
	}
}

func TestResetLosesSecurityState(t *testing.T) {
	c := memCard(t, Options{})
	run(t, c, []step{{selAP, 0x9000, 0}, {selAuthPIN, 0x9000, 0}, {"00200080" + ascii("1234"), 0x9000, 0}})
	c.Reset()
	run(t, c, []step{{"802A0097 03 010203 00", 0x6A82, 0}, {selAP, 0x9000, 0}, {"802A0097 03 010203 00", 0x6982, 0}})
}

func TestRetryCounters(t *testing.T) {
	dir := t.TempDir()
	if err := Create(dir, Options{}); err != nil {
		t.Fatal(err)
	}
	c, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	run(t, c, []step{{selAP, 0x9000, 0}, {selAuthPIN, 0x9000, 0},
		{"00200080" + ascii("0000"), 0x63C2, 0},
		{"00200080", 0x63C2, 0},
		{"00200080" + ascii("1234"), 0x9000, 0}, // a good PIN resets the counter
		{"00200080", 0x63C3, 0},
		{"00200080" + ascii("0000"), 0x63C2, 0},
		{"00200080" + ascii("0000"), 0x63C1, 0},
		{"00200080" + ascii("0000"), 0x63C0, 0}, // this try blocks
		{"00200080" + ascii("1234"), 0x6984, 0},
		{"00200080", 0x6984, 0},
	})
	// Blocked stays blocked across a restart (state.json).
	c2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	run(t, c2, []step{{selAP, 0x9000, 0}, {"00200098", 0x6984, 0}, {"0020009B", 0x63C5, 0}})
	run(t, c2, []step{{selSignPIN, 0x9000, 0},
		{"00200080" + ascii("XXXXXX"), 0x63C4, 0}, {"00200080" + ascii("XXXXXX"), 0x63C3, 0},
		{"00200080" + ascii("XXXXXX"), 0x63C2, 0}, {"00200080" + ascii("XXXXXX"), 0x63C1, 0},
		{"00200080" + ascii("XXXXXX"), 0x63C0, 0}, {"00200080" + ascii("ABC123"), 0x6984, 0}})
	if s := c2.Status(); s.AuthTries != 0 || s.SignTries != 0 {
		t.Fatalf("tries %d/%d, want 0/0", s.AuthTries, s.SignTries)
	}
}

func TestChangePIN(t *testing.T) {
	dir := t.TempDir()
	if err := Create(dir, Options{AuthPIN: "4321", SignPIN: "pass99"}); err != nil {
		t.Fatal(err)
	}
	c, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	run(t, c, []step{{selAP, 0x9000, 0}, {selSignPIN, 0x9000, 0},
		{"00200080" + ascii("pass99"), 0x63C4, 0}, // the card compares bytes: upper case registered
		{"00200080" + ascii("PASS99"), 0x9000, 0},
		{"00240180" + ascii("new"), 0x6A80, 0},
		{"00240180" + ascii("NEWPASS1"), 0x9000, 0},
	})
	c2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	run(t, c2, []step{{selAP, 0x9000, 0}, {"0020009B" + ascii("PASS99"), 0x63C4, 0}, {"0020009B" + ascii("NEWPASS1"), 0x9000, 0},
		{"00200098" + ascii("4321"), 0x9000, 0}, {"00240198" + ascii("12a4"), 0x6A80, 0}, {"00240198" + ascii("9999"), 0x9000, 0},
		{selAP, 0x9000, 0}, {"00200098" + ascii("9999"), 0x9000, 0}})
}

func TestSignSchemes(t *testing.T) {
	c := memCard(t, Options{})
	st := c.Status()
	msg := []byte("message to sign")
	hash := sha256.Sum256(msg)
	di := append(append([]byte(nil), sha256Prefix...), hash[:]...)
	for _, k := range []struct {
		name, pinRef, pin, keySel, keyRef string
		cert                              []byte
	}{
		{"auth", "98", "1234", selAuthKey, "97", st.AuthCert},
		{"sign", "9B", "ABC123", selSignKey, "9A", st.SignCert},
	} {
		cert, err := x509.ParseCertificate(k.cert)
		if err != nil {
			t.Fatal(err)
		}
		pub := cert.PublicKey.(*rsa.PublicKey)
		tests := []struct {
			p1    byte
			input []byte
			check func(sig []byte) error
		}{
			{0, di, func(s []byte) error { return rsa.VerifyPKCS1v15(pub, crypto.SHA256, hash[:], s) }},
			{1, msg, func(s []byte) error { return rsa.VerifyPKCS1v15(pub, crypto.Hash(0), hash[:], s) }},
			{2, hash[:], func(s []byte) error { return rsa.VerifyPKCS1v15(pub, crypto.SHA256, hash[:], s) }},
			{3, msg, func(s []byte) error { return rsa.VerifyPKCS1v15(pub, crypto.SHA256, hash[:], s) }},
			{4, hash[:], func(s []byte) error {
				return rsa.VerifyPSS(pub, crypto.SHA256, hash[:], s, &rsa.PSSOptions{SaltLength: 32, Hash: crypto.SHA256})
			}},
			{5, msg, func(s []byte) error {
				return rsa.VerifyPSS(pub, crypto.SHA256, hash[:], s, &rsa.PSSOptions{SaltLength: 32, Hash: crypto.SHA256})
			}},
		}
		c.Reset()
		run(t, c, []step{{selAP, 0x9000, 0}, {"002000" + k.pinRef + ascii(k.pin), 0x9000, 0}})
		for _, tc := range tests {
			for _, viaSelect := range []bool{false, true} {
				p2 := k.keyRef
				if viaSelect {
					run(t, c, []step{{k.keySel, 0x9000, 0}})
					p2 = "80"
				}
				cmd := "802A" + hex.EncodeToString([]byte{tc.p1}) + p2 + hex.EncodeToString([]byte{byte(len(tc.input))}) +
					hex.EncodeToString(tc.input) + "00"
				r := run(t, c, []step{{cmd, 0x9000, 256}})
				if err := tc.check(r[0]); err != nil {
					t.Errorf("%s key, P1 %02X: signature does not verify: %v", k.name, tc.p1, err)
				}
			}
		}
		// Wrong lengths.
		run(t, c, []step{
			{"802A02" + k.keyRef + "03 010203 00", 0x6700, 0},
			{"802A04" + k.keyRef + "03 010203 00", 0x6700, 0},
			{"802A00" + k.keyRef + "F6" + strings.Repeat("00", 246) + "00", 0x6700, 0},
		})
	}
}

func TestNoPSS(t *testing.T) {
	c := memCard(t, Options{NoPSS: true})
	run(t, c, []step{{selAP, 0x9000, 0}, {"00200098" + ascii("1234"), 0x9000, 0},
		{"802A0497 20" + strings.Repeat("11", 32) + "00", 0x6A86, 0},
		{"802A0597 03 010203 00", 0x6A86, 0},
		{"802A0297 20" + strings.Repeat("11", 32) + "00", 0x9000, 256}})
}

func TestUnder15(t *testing.T) {
	c := memCard(t, Options{Under15: true})
	r := run(t, c, []step{{selAP, 0x9000, 0}, {"00B0880003", 0x9000, 3},
		{"00A4020C02 0001", 0x6A82, 0}, {"00A4020C02 0002", 0x6A82, 0},
		{"00A4020C02 001B", 0x6A82, 0}, {"00A4020C02 001A", 0x6A82, 0}, {"00B08A0004", 0x9000, 4}})
	if !bytes.Equal(r[1], []byte{0, 0x8F, 0}) {
		t.Fatalf("presence %X", r[1])
	}
}

func TestTokenLabels(t *testing.T) {
	for _, tc := range []struct {
		o     Options
		label string
		atr   []byte
	}{
		{Options{}, card.LabelMyNumber, ATRMyNumber},
		{Options{Juki: true}, card.LabelJuki, ATRJuki},
	} {
		c := memCard(t, tc.o)
		r := run(t, c, []step{{selAP, 0x9000, 0}, {"00B0860000", 0x9000, -1}})
		if len(r[1]) < 0x20 || card.ParseTokenLabel(r[1]) != tc.label || r[1][31] != ' ' {
			t.Fatalf("token info %q", r[1])
		}
		if !bytes.Equal(c.ATR(), tc.atr) {
			t.Fatalf("ATR %X", c.ATR())
		}
		if tc.o.Juki {
			cert, _ := x509.ParseCertificate(c.Status().AuthCert)
			if cert.NotAfter.After(time.Now()) || cert.NotBefore.Year() != 2014 {
				t.Fatalf("Juki certificate valid %v..%v", cert.NotBefore, cert.NotAfter)
			}
		}
	}
}

func TestCertificates(t *testing.T) {
	birth := time.Date(1985, 6, 15, 0, 0, 0, 0, time.UTC)
	issued := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	c := memCard(t, Options{Name: "山田 花子", Sex: "2", Birth: birth, Issued: issued, Address: "Tokyo"})
	st := c.Status()
	auth, err := x509.ParseCertificate(st.AuthCert)
	if err != nil {
		t.Fatal(err)
	}
	sign, err := x509.ParseCertificate(st.SignCert)
	if err != nil {
		t.Fatal(err)
	}
	authCA, _ := x509.ParseCertificate(st.AuthCA)
	signCA, _ := x509.ParseCertificate(st.SignCA)
	if err := auth.CheckSignatureFrom(authCA); err != nil {
		t.Fatal(err)
	}
	if err := sign.CheckSignatureFrom(signCA); err != nil {
		t.Fatal(err)
	}
	for _, ca := range []*x509.Certificate{authCA, signCA} {
		// shaped like the real CAs' names (shared/jpki-ca): one attribute per RDN
		want := "OU=Japan Agency for Local Authority Information Systems,OU=JPKI for user authentication,O=JPKI-TEST,C=JP"
		if ca == signCA {
			want = strings.Replace(want, "user authentication", "digital signature", 1)
		}
		var rdns pkix.RDNSequence
		if _, err := asn1.Unmarshal(ca.RawSubject, &rdns); err != nil {
			t.Fatal(err)
		}
		if got := rdns.String(); got != want || len(rdns) != 4 {
			t.Fatalf("CA name %s (%d RDNs), want %s (4 RDNs)", got, len(rdns), want)
		}
	}
	want := time.Date(2028, 6, 15, 14, 59, 59, 0, time.UTC) // 5th birthday after 2024-03-01: 2024-06-15 is the 1st
	if !auth.NotAfter.Equal(want) || !sign.NotAfter.Equal(want) || !auth.NotBefore.Equal(issued) {
		t.Fatalf("validity %v..%v, want ..%v", auth.NotBefore, auth.NotAfter, want)
	}
	if auth.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth || auth.KeyUsage != x509.KeyUsageDigitalSignature {
		t.Fatal("auth key usage")
	}
	if sign.KeyUsage != x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment {
		t.Fatal("sign key usage")
	}
	san, err := SubjectAltNames(sign)
	if err != nil {
		t.Fatal(err)
	}
	if san[card.OIDHolderName.String()] != "山田 花子" || san[card.OIDHolderBirth.String()] != "19850615" || san[card.OIDHolderSex.String()] != "2" ||
		san[card.OIDHolderAddress.String()] != "Tokyo" {
		t.Fatalf("SAN %v", san)
	}
}

func TestFifthBirthday(t *testing.T) {
	b := time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC)
	if got := fifthBirthday(b, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)); got.Year() != 2030 {
		t.Fatalf("issued on the birthday: %v", got)
	}
	if got := fifthBirthday(b, time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC)); got.Year() != 2030 {
		t.Fatalf("issued after the birthday: %v", got)
	}
}

func TestOptionsValidation(t *testing.T) {
	for _, o := range []Options{{AuthPIN: "12345"}, {AuthPIN: "12a4"}, {SignPIN: "abc"}, {SignPIN: "abc-123"},
		{Under15: true, Juki: true}, {Sex: "x"}, {Birth: time.Now().AddDate(1, 0, 0)}} {
		if _, err := NewInMemory(o); !errors.Is(err, ErrOptions) {
			t.Errorf("%+v: %v, want ErrOptions", o, err)
		}
	}
}

func TestAPDULogMasksPIN(t *testing.T) {
	c := memCard(t, Options{})
	var logged [][]byte
	c.SetAPDULog(func(cmd, resp []byte) { logged = append(logged, cmd) })
	run(t, c, []step{{selAP, 0x9000, 0}, {"00200098" + ascii("1234"), 0x9000, 0}})
	if bytes.Contains(logged[1], []byte("1234")) || c.Commands() != 2 {
		t.Fatalf("log %q, commands %d", logged, c.Commands())
	}
}

// TestSignChecksP1First pins the order in which the signature command checks its
// input, as on the documented cards (shared/JPKI.md §2): P1 first (6A 86 for an
// unknown scheme, whatever the security state), then the data (67 00 without
// data), then the PIN (69 82). The module's PSS detection (card.ProbeScheme)
// relies on it.
func TestSignChecksP1First(t *testing.T) {
	hash := strings.Repeat("11", 32)
	for _, noPSS := range []bool{false, true} {
		c := memCard(t, Options{NoPSS: noPSS})
		steps := []step{{selAP, 0x9000, 0}, {selAuthKey, 0x9000, 0}}
		for _, p1 := range []byte{0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x7F, 0x80, 0xFF} {
			known := p1 <= 0x03 || p1 <= 0x05 && !noPSS
			noData, withData := uint16(0x6700), uint16(0x6982)
			if !known {
				noData, withData = 0x6A86, 0x6A86
			}
			p := hex.EncodeToString([]byte{p1})
			steps = append(steps, step{"802A" + p + "80", noData, 0}, step{"802A" + p + "80 00", noData, 0},
				step{"802A" + p + "80 20" + hash + "00", withData, 0}, step{"802A" + p + "97 20" + hash + "00", withData, 0})
		}
		run(t, c, steps)

		// the module's probe over this card: conclusive both ways, no PIN, nothing signed
		probe, err := card.New(NewTransport(c)).ProbeScheme(card.AuthKey, card.SchemePSSSHA256)
		if err != nil {
			t.Fatal(err)
		}
		if !probe.Conclusive || probe.Supported == noPSS || probe.ControlSW != 0x6A86 {
			t.Fatalf("no-PSS card %v: probe %+v", noPSS, probe)
		}
		if st := c.Status(); st.AuthTries != card.AuthKey.MaxTries() {
			t.Fatalf("tries %d", st.AuthTries)
		}
	}
}
