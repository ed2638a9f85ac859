package cli

import (
	"bytes"
	"crypto/x509"
	"encoding/hex"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jpki-pkcs11/jpki-pkcs11/card"
	"github.com/jpki-pkcs11/jpki-pkcs11/vcard"
)

// TestStatusAndroidPhone: jpki status names the Android smartphone certificate,
// shows its tries and what a phone shows without a PIN, and warns of nothing
// (before: "JPKI token of another kind" and "another application used the card").
func TestStatusAndroidPhone(t *testing.T) {
	sys := vcard.NewSystem()
	c := newCard(t, vcard.Options{Phone: vcard.PhoneAndroid})
	v := &verifies{}
	c.SetAPDULog(v.log)
	sys.Insert("R0", c)
	r := run(t, sys, "", "status")
	if r.code != 0 {
		t.Fatalf("status: %d %s", r.code, r.err)
	}
	for _, want := range []string{"card: Android smartphone certificate\n", "authentication PIN: 3 tries left",
		"signature password: 5 tries left", "authentication certificate: present; on a smartphone it is readable only after the authentication PIN",
		"authentication CA certificate:", "signature certificate: present; its dates are readable only after the signature password"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("status lacks %q:\n%s", want, r.out)
		}
	}
	if strings.Contains(r.out, "warning") {
		t.Errorf("status warns about a phone:\n%s", r.out)
	}
	reps := statusJSON(t, sys)
	if reps[0].Card != "android_phone" || len(reps[0].Warnings) != 0 {
		t.Errorf("status --json: %+v", reps[0])
	}
	if v.n != 0 {
		t.Errorf("status sent %d VERIFY with a PIN", v.n)
	}
}

// TestPhoneCertsHolderSign: certs, holder, sign --key auth and pdf sign work on
// the phone, asking the authentication PIN where the phone needs it (the
// authentication certificate) and nowhere else.
func TestPhoneCertsHolderSign(t *testing.T) {
	sys := vcard.NewSystem()
	c := newCard(t, vcard.Options{Phone: vcard.PhoneAndroid, AuthPIN: "1234", SignPIN: "ABC123"})
	v := &verifies{}
	c.SetAPDULog(v.log)
	sys.Insert("R0", c)
	dir := t.TempDir()
	r := run(t, sys, "1234\n", "certs", "--pin-stdin", "--der", "--out", dir)
	if r.code != 0 || v.n != 1 {
		t.Fatalf("certs: code %d, %d VERIFY: %s", r.code, v.n, r.err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "auth.der"))
	if !bytes.Equal(got, c.Status().AuthCert) {
		t.Fatal("certs wrote another authentication certificate")
	}
	v.n = 0
	if r := run(t, sys, "1234\nABC123\n", "certs", "--sign", "--pin-stdin", "--der", "--out", t.TempDir()); r.code != 0 || v.n != 2 {
		t.Fatalf("certs --sign: code %d, %d VERIFY: %s", r.code, v.n, r.err)
	}
	v.n = 0
	if r := run(t, sys, "ABC123\n", "holder", "--pin-stdin"); r.code != 0 || v.n != 1 || !strings.Contains(r.out, "JPKI TARO") {
		t.Fatalf("holder: code %d, %d VERIFY: %s %s", r.code, v.n, r.out, r.err)
	}
	file := filepath.Join(t.TempDir(), "doc.txt")
	os.WriteFile(file, []byte("hello"), 0o644)
	v.n = 0
	if r := run(t, sys, "1234\n", "sign", "--key", "auth", "--pin-stdin", file); r.code != 0 || v.n != 1 {
		t.Fatalf("sign --key auth: code %d, %d VERIFY: %s", r.code, v.n, r.err)
	}
	// the wrong PIN is refused by the card and costs one try, as on a card
	if r := run(t, sys, "4321\n", "certs", "--pin-stdin"); r.code != ExitError || !strings.Contains(r.err, "2 tries left") {
		t.Fatalf("wrong PIN: code %d %s", r.code, r.err)
	}
}

// TestNotUsableCards: a My Number Card without a JPKI application this version
// knows, and an iPhone's label, are named and refused with the reason.
func TestNotUsableCards(t *testing.T) {
	sys := vcard.NewSystem()
	sys.Insert("R0", newCard(t, vcard.Options{Quirks: []string{vcard.QuirkNoJPKIAP}}))
	sys.Insert("R1", newCard(t, vcard.Options{Phone: vcard.PhoneIOS}))
	r := run(t, sys, "", "status")
	for _, want := range []string{"a My Number Card whose JPKI application this version does not know (a newer card generation?)",
		"jpki diagnose", "iPhone smartphone certificate (not supported)", "through PC/SC"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("status lacks %q:\n%s", want, r.out)
		}
	}
	if strings.Contains(r.out, "not a JPKI card") {
		t.Errorf("status calls the My Number Card not a JPKI card:\n%s", r.out)
	}
	reps := statusJSON(t, sys)
	if reps[0].Card != "my_number_unknown_jpki" || reps[1].Card != "iphone" {
		t.Errorf("cards %q %q", reps[0].Card, reps[1].Card)
	}
	for i, want := range []string{"does not know", "iPhone"} {
		r := run(t, sys, "", "certs", "--reader", []string{"0", "1"}[i])
		if r.code != ExitError || !strings.Contains(r.err, want) {
			t.Errorf("certs on reader %d: code %d %s", i, r.code, r.err)
		}
	}
}

// TestDiagnoseSafeToShare: jpki diagnose on a card with a holder name and address
// sends no PIN and no signature input, changes no counter, and its report holds
// the ATR and the findings but no name, address, certificate serial or body, nor
// the token-info serial; its transcript parses back.
func TestDiagnoseSafeToShare(t *testing.T) {
	sys := vcard.NewSystem()
	c := newCard(t, vcard.Options{Name: "JPKI TARO", Address: "東京都千代田区1-1", TokenSerial: "9876543210123456"})
	var cmds [][]byte
	c.SetAPDULog(func(cmd, _ []byte) { cmds = append(cmds, append([]byte(nil), cmd...)) })
	sys.Insert("R0", c)
	out := filepath.Join(t.TempDir(), "diag.txt")
	r := run(t, sys, "", "diagnose", "--out", out)
	if r.code != 0 || !strings.Contains(r.out, "attach it to your bug report") {
		t.Fatalf("diagnose: code %d: %s %s", r.code, r.out, r.err)
	}
	for _, cmd := range cmds {
		switch {
		case cmd[1] == 0x20 && len(cmd) > 4, cmd[1] == 0x24:
			t.Fatalf("diagnose sent a PIN command % X", cmd)
		case cmd[0] == 0x80 && cmd[1] == 0x2A && len(cmd) > 4:
			t.Fatalf("diagnose sent a signature command with data % X", cmd)
		}
	}
	st := c.Status()
	if st.AuthTries != 3 || st.SignTries != 5 {
		t.Fatalf("tries after diagnose: %d %d", st.AuthTries, st.SignTries)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	rep := string(raw)
	flat := strings.ToUpper(strings.NewReplacer(" ", "", ":", "", "\t", "").Replace(rep))
	for _, want := range []string{"ATR3BDA13FF8131FB468012392F31C173C601C03B", "CARDMYNUMBERCARD(MY_NUMBER)", "LABELJPKIAPICCTOKEN2"} {
		if !strings.Contains(flat, want) {
			t.Errorf("report lacks %s:\n%s", want, rep)
		}
	}
	for _, want := range []string{"authentication PIN:  3 (SW 63C3)", "short-EF READ BINARY (P1 80|SFI): accepted",
		"RSASSA-PSS (P1 04): offered", "signature certificate          EF 0001: needs the PIN (SW 6982)",
		"authentication certificate     EF 000A: readable", "serial:        [removed: 16 characters, digits only]"} {
		if !strings.Contains(rep, want) {
			t.Errorf("report lacks %q:\n%s", want, rep)
		}
	}
	auth, _ := x509.ParseCertificate(st.AuthCert)
	secrets := map[string]string{"the holder's name": "TARO", "the address": "千代田", "the token serial": "9876543210123456",
		"the PIN": "1234", "the signature password": "ABC123"}
	hexSecrets := map[string][]byte{"the certificate serial": auth.SerialNumber.Bytes(), "the name (hex)": []byte("TARO"),
		"the address (hex)": []byte("千代田"), "the token serial (hex)": []byte("98765432"), "a certificate body": auth.RawSubjectPublicKeyInfo[40:56]}
	for what, s := range secrets {
		if strings.Contains(rep, s) {
			t.Errorf("the report holds %s", what)
		}
	}
	for what, b := range hexSecrets {
		if strings.Contains(flat, strings.ToUpper(hex.EncodeToString(b))) {
			t.Errorf("the report holds %s", what)
		}
	}
	if strings.Contains(rep, new(big.Int).Set(auth.SerialNumber).String()) {
		t.Error("the report holds the certificate serial (decimal)")
	}
	ex, err := card.ParseTranscript(strings.NewReader(rep))
	if err != nil || len(ex) != len(cmds) {
		t.Fatalf("transcript: %d exchanges (card saw %d), %v", len(ex), len(cmds), err)
	}
	if testing.Verbose() {
		t.Logf("report:\n%s", rep)
	}
}
