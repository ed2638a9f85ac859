package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jpki-pkcs11/jpki-pkcs11/card"
	"github.com/jpki-pkcs11/jpki-pkcs11/test/testpdf"
	"github.com/jpki-pkcs11/jpki-pkcs11/vcard"
)

// keepOpen hides Close so one virtual system serves several runs.
type keepOpen struct{ *vcard.System }

func (keepOpen) Close() error { return nil }

type result struct {
	out, err string
	code     int
}

func run(t *testing.T, sys *vcard.System, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(args, Env{
		Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb,
		System: func() (card.System, error) { return keepOpen{sys}, nil },
	})
	return result{out.String(), errb.String(), code}
}

func newCard(t *testing.T, o vcard.Options) *vcard.Card {
	t.Helper()
	c, err := vcard.NewInMemory(o)
	if err != nil {
		t.Fatalf("virtual card: %v", err)
	}
	return c
}

// verifies counts VERIFY APDUs that carry a PIN (tries queries carry none).
type verifies struct{ n int }

func (v *verifies) log(cmd, _ []byte) {
	if len(cmd) > 5 && cmd[1] == 0x20 {
		v.n++
	}
}

func statusJSON(t *testing.T, sys *vcard.System) []readerReport {
	t.Helper()
	r := run(t, sys, "", "status", "--json")
	if r.code != 0 {
		t.Fatalf("status --json: code %d: %s", r.code, r.err)
	}
	var doc struct{ Readers []readerReport }
	if err := json.Unmarshal([]byte(r.out), &doc); err != nil {
		t.Fatalf("status --json is not JSON: %v\n%s", err, r.out)
	}
	return doc.Readers
}

func TestStatusTellsCardsApart(t *testing.T) {
	sys := vcard.NewSystem()
	sys.Insert("R0", newCard(t, vcard.Options{}))
	sys.Insert("R1", newCard(t, vcard.Options{Under15: true}))
	sys.Insert("R2", newCard(t, vcard.Options{Juki: true}))
	sys.AddReader("R3")
	r := run(t, sys, "", "status")
	if r.code != 0 {
		t.Fatalf("status: code %d: %s", r.code, r.err)
	}
	for _, want := range []string{
		"Reader 0: R0", "card: My Number Card\n", "authentication PIN: 3 tries left", "signature password: 5 tries left",
		"renewal possible from", "readable only after the signature password",
		"Reader 1: R1", "without a signature certificate (under 15)",
		"Reader 2: R2", "Juki card", "expired",
		"Reader 3: R3", "empty (no card)",
	} {
		if !strings.Contains(r.out, want) {
			t.Errorf("status output lacks %q:\n%s", want, r.out)
		}
	}
	reps := statusJSON(t, sys)
	if len(reps) != 4 {
		t.Fatalf("%d readers in JSON, want 4", len(reps))
	}
	kinds := []string{"my_number", "my_number_no_sign", "juki", "empty"}
	for i, k := range kinds {
		if reps[i].Card != k {
			t.Errorf("reader %d: card %q, want %q", i, reps[i].Card, k)
		}
	}
	if reps[0].AuthTries == nil || *reps[0].AuthTries != 3 || reps[0].SignTries == nil || *reps[0].SignTries != 5 {
		t.Errorf("reader 0 tries: %+v %+v", reps[0].AuthTries, reps[0].SignTries)
	}
	if reps[1].SignTries != nil {
		t.Errorf("under-15 card reports sign tries %d", *reps[1].SignTries)
	}
}

func TestStatusAsksNoPINAndCostsNoTry(t *testing.T) {
	sys := vcard.NewSystem()
	c := newCard(t, vcard.Options{})
	v := &verifies{}
	c.SetAPDULog(v.log)
	sys.Insert("R0", c)
	for range 3 {
		statusJSON(t, sys)
	}
	if v.n != 0 {
		t.Fatalf("status sent %d VERIFY commands with a PIN", v.n)
	}
	if reps := statusJSON(t, sys); *reps[0].AuthTries != 3 || *reps[0].SignTries != 5 {
		t.Fatalf("tries changed by status: %d %d", *reps[0].AuthTries, *reps[0].SignTries)
	}
}

func TestWrongPINCostsExactlyOneTry(t *testing.T) {
	sys := vcard.NewSystem()
	c := newCard(t, vcard.Options{SignPIN: "ABC123"})
	v := &verifies{}
	c.SetAPDULog(v.log)
	sys.Insert("R0", c)
	r := run(t, sys, "WRONG1\n", "certs", "--sign", "--pin-stdin", "--out", t.TempDir())
	if r.code != ExitError || !strings.Contains(r.err, "wrong signature password: 4 tries left") {
		t.Fatalf("wrong password: code %d, stderr %q", r.code, r.err)
	}
	if v.n != 1 {
		t.Fatalf("%d VERIFY commands with a PIN, want 1", v.n)
	}
	if reps := statusJSON(t, sys); *reps[0].SignTries != 4 || *reps[0].AuthTries != 3 {
		t.Fatalf("after one wrong password: sign %d auth %d, want 4 and 3", *reps[0].SignTries, *reps[0].AuthTries)
	}
	dir := t.TempDir()
	r = run(t, sys, "abc123\n", "certs", "--sign", "--pin-stdin", "--der", "--out", dir)
	if r.code != 0 {
		t.Fatalf("good password (lower case): code %d: %s", r.code, r.err)
	}
	if reps := statusJSON(t, sys); *reps[0].SignTries != 5 {
		t.Fatalf("sign tries %d after a good password, want 5", *reps[0].SignTries)
	}
	for _, f := range []string{"auth.der", "auth-ca.der", "sign-ca.der", "sign.der"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("certs --sign --der: %v", err)
		}
	}
	if st, err := os.Stat(filepath.Join(dir, "sign.der")); err == nil && st.Mode().Perm() != 0o600 {
		t.Errorf("sign.der mode %v, want 0600 (personal data)", st.Mode().Perm())
	}
}

func TestMalformedPINSendsNothing(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		pin  string
	}{
		{"sign password too short", []string{"holder"}, "AB1"},
		{"sign password with a symbol", []string{"holder"}, "ABC-123"},
		{"auth PIN with a letter", []string{"sign", "--key", "auth", "FILE"}, "12a4"},
		{"auth PIN too long", []string{"sign", "--key", "auth", "FILE"}, "12345"},
		{"empty line", []string{"holder"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sys := vcard.NewSystem()
			c := newCard(t, vcard.Options{})
			v := &verifies{}
			c.SetAPDULog(v.log)
			sys.Insert("R0", c)
			file := filepath.Join(t.TempDir(), "doc.txt")
			os.WriteFile(file, []byte("hello"), 0o644)
			args := append([]string{"--pin-stdin"}, tc.args...)
			for i, a := range args {
				if a == "FILE" {
					args[i] = file
				}
			}
			r := run(t, sys, tc.pin+"\n", args...)
			if r.code != ExitError || !strings.Contains(r.err, "refused before anything was sent") {
				t.Fatalf("code %d, stderr %q", r.code, r.err)
			}
			if v.n != 0 {
				t.Fatalf("%d VERIFY commands with a PIN sent for a malformed PIN", v.n)
			}
		})
	}
}

func TestBlockedPINIsNotAsked(t *testing.T) {
	sys := vcard.NewSystem()
	sys.Insert("R0", newCard(t, vcard.Options{}))
	for i, want := range []string{"4 tries left", "3 tries left", "2 tries left", "1 try left", "now blocked"} {
		r := run(t, sys, "WRONG1\n", "holder", "--pin-stdin")
		if !strings.Contains(r.err, want) {
			t.Fatalf("wrong try %d: stderr %q, want %q", i+1, r.err, want)
		}
	}
	r := run(t, sys, "ABC123\n", "holder", "--pin-stdin")
	if r.code != ExitError || !strings.Contains(r.err, "only your municipal office can reset it") {
		t.Fatalf("blocked: code %d stderr %q", r.code, r.err)
	}
	if reps := statusJSON(t, sys); *reps[0].SignTries != 0 {
		t.Fatalf("sign tries %d, want 0", *reps[0].SignTries)
	}
	if r := run(t, sys, "", "status"); !strings.Contains(r.out, "BLOCKED") {
		t.Fatalf("status does not say blocked:\n%s", r.out)
	}
}

func TestPINChange(t *testing.T) {
	sys := vcard.NewSystem()
	sys.Insert("R0", newCard(t, vcard.Options{AuthPIN: "1234"}))
	if r := run(t, sys, "1234\n12x4\n", "pin", "change", "auth", "--pin-stdin"); r.code != ExitError || !strings.Contains(r.err, "nothing was sent") {
		t.Fatalf("malformed new PIN: code %d stderr %q", r.code, r.err)
	}
	if r := run(t, sys, "1234\n5678\n", "pin", "change", "auth", "--pin-stdin"); r.code != 0 {
		t.Fatalf("pin change: code %d stderr %q", r.code, r.err)
	}
	if r := run(t, sys, "1234\n", "sign", "--key", "auth", "--pin-stdin", "nofile"); r.code == 0 {
		t.Fatalf("sign of a missing file succeeded")
	}
	file := filepath.Join(t.TempDir(), "doc.txt")
	os.WriteFile(file, []byte("hello"), 0o644)
	if r := run(t, sys, "1234\n", "sign", "--key", "auth", "--pin-stdin", file); !strings.Contains(r.err, "wrong authentication PIN: 2 tries left") {
		t.Fatalf("old PIN after change: stderr %q", r.err)
	}
	if r := run(t, sys, "5678\n", "sign", "--key", "auth", "--pin-stdin", file); r.code != 0 {
		t.Fatalf("new PIN: code %d stderr %q", r.code, r.err)
	}
	r := run(t, sys, "", "pin", "status", "--json")
	if !strings.Contains(r.out, `"auth_tries": 3`) {
		t.Fatalf("pin status after a good PIN: %s", r.out)
	}
}

func TestSignAndVerify(t *testing.T) {
	sys := vcard.NewSystem()
	sys.Insert("R0", newCard(t, vcard.Options{}))
	dir := t.TempDir()
	file := filepath.Join(dir, "doc.txt")
	os.WriteFile(file, []byte("the document"), 0o644)
	if r := run(t, sys, "", "certs", "--out", dir); r.code != 0 {
		t.Fatalf("certs: %s", r.err)
	}
	for _, tc := range []struct {
		key, pin, ca string
		detached     bool
	}{
		{"auth", "1234", "auth-ca.pem", true},
		{"sign", "ABC123", "sign-ca.pem", false},
		{"sign", "abc123", "sign-ca.pem", true},
	} {
		sig := filepath.Join(dir, tc.key+".p7")
		args := []string{"sign", "--key", tc.key, "--pin-stdin", "--out", sig, file}
		if tc.detached {
			args = append(args, "--detached")
		}
		if r := run(t, sys, tc.pin+"\n", args...); r.code != 0 {
			t.Fatalf("sign --key %s: %s", tc.key, r.err)
		}
		ca := filepath.Join(dir, tc.ca)
		if r := run(t, sys, "", "verify", file, sig, "--ca", ca); r.code != 0 || !strings.Contains(r.out, "signature valid") {
			t.Fatalf("verify %s: code %d out %q err %q", tc.key, r.code, r.out, r.err)
		}
		if r := run(t, sys, "", "verify", file, sig); r.code == 0 {
			t.Fatalf("a test card's signature chained to the real JPKI roots")
		}
		other := filepath.Join(dir, "other.txt")
		os.WriteFile(other, []byte("another document"), 0o644)
		if r := run(t, sys, "", "verify", other, sig, "--ca", ca); r.code == 0 {
			t.Fatalf("verify accepted a signature over other content (%s)", tc.key)
		}
	}
}

func TestReaderSelection(t *testing.T) {
	sys := vcard.NewSystem()
	sys.Insert("Reader A", newCard(t, vcard.Options{}))
	sys.Insert("Reader B", newCard(t, vcard.Options{}))
	if r := run(t, sys, "", "pin", "status"); r.code != ExitUsage || !strings.Contains(r.err, "--reader") {
		t.Fatalf("two cards without --reader: code %d err %q", r.code, r.err)
	}
	for _, sel := range []string{"1", "Reader B", "b"} {
		if r := run(t, sys, "", "pin", "status", "--reader", sel); r.code != 0 {
			t.Fatalf("--reader %q: code %d err %q", sel, r.code, r.err)
		}
	}
	if r := run(t, sys, "", "pin", "status", "--reader", "7"); r.code != ExitUsage {
		t.Fatalf("--reader 7: code %d", r.code)
	}
	sys.Remove("Reader A")
	if r := run(t, sys, "", "pin", "status"); r.code != 0 {
		t.Fatalf("one card without --reader: code %d err %q", r.code, r.err)
	}
}

func TestNoTerminalNoPINStdin(t *testing.T) {
	sys := vcard.NewSystem()
	sys.Insert("R0", newCard(t, vcard.Options{}))
	r := run(t, sys, "ABC123\n", "holder")
	if r.code != ExitError || !strings.Contains(r.err, "--pin-stdin") {
		t.Fatalf("code %d err %q", r.code, r.err)
	}
}

func TestHolder(t *testing.T) {
	sys := vcard.NewSystem()
	sys.Insert("R0", newCard(t, vcard.Options{Name: "山田 花子", Sex: "2", Address: "大阪府大阪市", Birth: time.Date(1990, 1, 2, 0, 0, 0, 0, time.UTC)}))
	r := run(t, sys, "ABC123\n", "holder", "--pin-stdin")
	if r.code != 0 {
		t.Fatalf("holder: %s", r.err)
	}
	for _, want := range []string{"山田 花子", "female", "大阪府大阪市", "1990-01-02", "expires"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("holder output lacks %q:\n%s", want, r.out)
		}
	}
}

func TestUnder15CannotSign(t *testing.T) {
	sys := vcard.NewSystem()
	c := newCard(t, vcard.Options{Under15: true})
	v := &verifies{}
	c.SetAPDULog(v.log)
	sys.Insert("R0", c)
	r := run(t, sys, "ABC123\n", "holder", "--pin-stdin")
	if r.code != ExitError || !strings.Contains(r.err, "no signature certificate") || v.n != 0 {
		t.Fatalf("under-15 holder: code %d err %q verifies %d", r.code, r.err, v.n)
	}
}

func TestUsageErrors(t *testing.T) {
	sys := vcard.NewSystem()
	for _, args := range [][]string{{"frobnicate"}, {"sign"}, {"pin", "change", "x"}, {"certs", "--der"}, {"pdf", "sign", "a.pdf"}, {"status", "--bogus"}} {
		if r := run(t, sys, "", args...); r.code != ExitUsage {
			t.Errorf("%v: code %d, want %d (%s)", args, r.code, ExitUsage, r.err)
		}
	}
	if r := run(t, sys, "", "help"); r.code != 0 || !strings.Contains(r.out, "pin-stdin") {
		t.Errorf("help: %d %q", r.code, r.out)
	}
}

func TestNoReader(t *testing.T) {
	r := run(t, vcard.NewSystem(), "", "status")
	if r.code != ExitError || !strings.Contains(r.err, "no smart card reader") {
		t.Fatalf("code %d err %q", r.code, r.err)
	}
}

func TestCertsJSONAndPEM(t *testing.T) {
	sys := vcard.NewSystem()
	sys.Insert("R0", newCard(t, vcard.Options{}))
	r := run(t, sys, "", "certs", "--json")
	var doc struct {
		Certificates []struct {
			Role, PEM string
		}
	}
	if err := json.Unmarshal([]byte(r.out), &doc); err != nil || len(doc.Certificates) != 3 {
		t.Fatalf("certs --json: %v, %d certificates\n%s", err, len(doc.Certificates), r.out)
	}
	r = run(t, sys, "", "certs")
	if n := strings.Count(r.out, "BEGIN CERTIFICATE"); n != 3 {
		t.Fatalf("certs: %d PEM blocks, want 3", n)
	}
}

func TestPDFSign(t *testing.T) {
	sys := vcard.NewSystem()
	sys.Insert("R0", newCard(t, vcard.Options{}))
	sys.Insert("R1", newCard(t, vcard.Options{Under15: true}))
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.pdf"), filepath.Join(dir, "out.pdf")
	os.WriteFile(in, testpdf.Minimal("Hello"), 0o644)
	r := run(t, sys, "ABC123\n", "pdf", "sign", in, out, "--reader", "0", "--pin-stdin", "--reason", "ok")
	if r.code != 0 {
		t.Fatalf("pdf sign: %s", r.err)
	}
	b, err := os.ReadFile(out)
	if err != nil || !bytes.HasPrefix(b, []byte("%PDF")) || !bytes.Contains(b, []byte("/ByteRange")) || !bytes.Contains(b, []byte("/Reason")) {
		t.Fatalf("signed PDF: %v, %d bytes", err, len(b))
	}
	if _, err := os.Stat(out + ".partial"); err == nil {
		t.Error("temporary file left behind")
	}
	r = run(t, sys, "ABC123\n", "pdf", "sign", in, filepath.Join(dir, "u15.pdf"), "--reader", "1", "--pin-stdin")
	if r.code != ExitError || !strings.Contains(r.err, "no signature certificate") {
		t.Fatalf("under-15 pdf sign: code %d err %q", r.code, r.err)
	}
	if r := run(t, sys, "ABC123\n", "pdf", "sign", in, in, "--reader", "0", "--pin-stdin"); r.code == 0 {
		t.Fatal("pdf sign over its input succeeded")
	}
	notPDF := filepath.Join(dir, "x.pdf")
	os.WriteFile(notPDF, []byte("hello"), 0o644)
	c := newCard(t, vcard.Options{})
	v := &verifies{}
	c.SetAPDULog(v.log)
	sys.Insert("R0", c)
	if r := run(t, sys, "ABC123\n", "pdf", "sign", notPDF, out, "--reader", "0", "--pin-stdin"); r.code != ExitError || v.n != 0 {
		t.Fatalf("not a PDF: code %d, %d VERIFY sent (want an error before any PIN)", r.code, v.n)
	}
}
