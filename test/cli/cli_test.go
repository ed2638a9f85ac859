package cli_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jpki-pkcs11/jpki-pkcs11/test/testpdf"
)

type reader struct {
	Index     int    `json:"index"`
	Card      string `json:"card"`
	AuthTries *int   `json:"auth_tries"`
	SignTries *int   `json:"sign_tries"`
}

func status(t *testing.T) []reader {
	t.Helper()
	r := mustRun(t, "", "status", "--json")
	var doc struct{ Readers []reader }
	if err := json.Unmarshal([]byte(r.out), &doc); err != nil {
		t.Fatalf("status --json is not JSON: %v\n%s", err, r.out)
	}
	if len(doc.Readers) != 2 {
		t.Fatalf("status --json lists %d readers, want 2:\n%s", len(doc.Readers), r.out)
	}
	return doc.Readers
}

func tries(t *testing.T, p *int) int {
	t.Helper()
	if p == nil {
		t.Fatal("tries missing from status --json")
	}
	return *p
}

func TestStatusNormalAndUnder15(t *testing.T) {
	insert(t, 0)
	insert(t, 1, "--under15")
	r := mustRun(t, "", "status")
	for _, want := range []string{
		"Reader 0: Virtual PCD 00 00", "card: My Number Card\n", "authentication PIN: 3 tries left",
		"signature password: 5 tries left", "renewal possible from",
		"Reader 1: Virtual PCD 00 01", "without a signature certificate (under 15)",
	} {
		if !strings.Contains(r.out, want) {
			t.Errorf("status lacks %q:\n%s", want, r.out)
		}
	}
	if !regexp.MustCompile(`expires \d{4}-\d\d-\d\d \(\d+ days\); renewal possible from \d{4}-\d\d-\d\d`).MatchString(r.out) {
		t.Errorf("no renewal window sentence:\n%s", r.out)
	}
	rs := status(t)
	if rs[0].Card != "my_number" || rs[1].Card != "my_number_no_sign" {
		t.Errorf("cards %q %q", rs[0].Card, rs[1].Card)
	}
	if tries(t, rs[0].AuthTries) != 3 || tries(t, rs[0].SignTries) != 5 || tries(t, rs[1].AuthTries) != 3 {
		t.Errorf("tries: %d %d %d", *rs[0].AuthTries, *rs[0].SignTries, *rs[1].AuthTries)
	}
}

func TestStatusJukiAndEmpty(t *testing.T) {
	insert(t, 0, "--juki")
	r := mustRun(t, "", "status")
	for _, want := range []string{"Juki card", "expired", "Reader 1: Virtual PCD 00 01", "empty (no card)"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("status lacks %q:\n%s", want, r.out)
		}
	}
	rs := status(t)
	if rs[0].Card != "juki" || rs[1].Card != "empty" {
		t.Errorf("cards %q %q", rs[0].Card, rs[1].Card)
	}
}

func TestStatusCostsNoTry(t *testing.T) {
	insert(t, 0)
	mark := pc.Mark()
	for range 3 {
		status(t)
	}
	if n := verifyAPDUs(t, mark); n != 0 {
		t.Fatalf("status sent %d VERIFY commands with a PIN", n)
	}
	rs := status(t)
	if tries(t, rs[0].AuthTries) != 3 || tries(t, rs[0].SignTries) != 5 {
		t.Fatalf("tries changed: %d %d", *rs[0].AuthTries, *rs[0].SignTries)
	}
}

func TestWrongPINCostsExactlyOneTry(t *testing.T) {
	insert(t, 0, "--sign-pin", "ABC123")
	mark := pc.Mark()
	r := run(t, "WRONG1\n", "certs", "--pin-stdin", "--sign", "--out", t.TempDir())
	if r.code == 0 || !strings.Contains(r.err, "wrong signature password: 4 tries left") {
		t.Fatalf("wrong password: exit %d, stderr %q", r.code, r.err)
	}
	if n := verifyAPDUs(t, mark); n != 1 {
		t.Fatalf("%d VERIFY commands with a PIN for one wrong password, want 1", n)
	}
	rs := status(t)
	if tries(t, rs[0].SignTries) != 4 || tries(t, rs[0].AuthTries) != 3 {
		t.Fatalf("after one wrong password: sign %d, auth %d", *rs[0].SignTries, *rs[0].AuthTries)
	}
	mustRun(t, "abc123\n", "holder", "--pin-stdin")
	if rs := status(t); tries(t, rs[0].SignTries) != 5 {
		t.Fatalf("sign tries %d after a good password, want 5", *rs[0].SignTries)
	}
}

func TestMalformedPINSendsNothing(t *testing.T) {
	insert(t, 0)
	dir := t.TempDir()
	doc, pdf := filepath.Join(dir, "doc.txt"), filepath.Join(dir, "doc.pdf")
	os.WriteFile(doc, []byte("hello"), 0o644)
	os.WriteFile(pdf, testpdf.Minimal("Hello JPKI"), 0o644)
	for _, tc := range []struct {
		pin  string
		args []string
	}{
		{"12345", []string{"sign", "--key", "auth", doc}},
		{"12a4", []string{"pin", "change", "auth"}},
		{"AB-123", []string{"holder"}},
		{"ABC12", []string{"pdf", "sign", pdf, pdf + ".signed.pdf"}},
	} {
		mark := pc.Mark()
		r := run(t, tc.pin+"\n", append(tc.args, "--pin-stdin")...)
		if r.code == 0 || !strings.Contains(r.err, "refused before anything was sent") {
			t.Errorf("%v with PIN %q: exit %d stderr %q", tc.args, tc.pin, r.code, r.err)
		}
		if n := verifyAPDUs(t, mark); n != 0 {
			t.Errorf("%v: %d VERIFY commands with a PIN sent for a malformed PIN", tc.args, n)
		}
	}
	rs := status(t)
	if tries(t, rs[0].AuthTries) != 3 || tries(t, rs[0].SignTries) != 5 {
		t.Fatalf("tries changed: %d %d", *rs[0].AuthTries, *rs[0].SignTries)
	}
}

func TestPINChange(t *testing.T) {
	insert(t, 0, "--auth-pin", "1234", "--sign-pin", "ABC123")
	mustRun(t, "1234\n4321\n", "pin", "change", "auth", "--pin-stdin")
	mustRun(t, "abc123\nNEWPASS9\n", "pin", "change", "sign", "--pin-stdin")
	doc := filepath.Join(t.TempDir(), "doc.txt")
	os.WriteFile(doc, []byte("hello"), 0o644)
	r := run(t, "1234\n", "sign", "--key", "auth", "--pin-stdin", doc)
	if r.code == 0 || !strings.Contains(r.err, "wrong authentication PIN: 2 tries left") {
		t.Fatalf("old PIN after change: exit %d stderr %q", r.code, r.err)
	}
	mustRun(t, "4321\n", "sign", "--key", "auth", "--pin-stdin", doc)
	mustRun(t, "newpass9\n", "holder", "--pin-stdin")
	r = mustRun(t, "", "pin", "status", "--json")
	if !strings.Contains(r.out, `"auth_tries": 3`) || !strings.Contains(r.out, `"sign_tries": 5`) {
		t.Fatalf("pin status: %s", r.out)
	}
}

// cmsCase is one signature the CLI tests make with `jpki sign`: the key, its PIN,
// the CA certificate `jpki certs --out` writes for it, and detached or not.
type cmsCase struct {
	key, pin, ca string
	detached     bool
}

// cmsCases are both keys, detached, and the signature key with the content inside.
var cmsCases = []cmsCase{
	{"auth", "1234", "auth-ca.pem", true},
	{"sign", "ABC123", "sign-ca.pem", true},
	{"sign", "ABC123", "sign-ca.pem", false},
}

// signAndVerify signs doc with `jpki sign` as tc says (the PIN on stdin) into
// dir/KEY.p7s, and checks the signature with `jpki verify` and with `openssl cms
// -verify` against tc's CA certificate in dir (from `jpki certs --out dir`), openssl
// giving back doc's content. It returns the signature file.
func signAndVerify(t *testing.T, dir, doc string, tc cmsCase) string {
	t.Helper()
	sig := filepath.Join(dir, tc.key+".p7s")
	args := []string{"sign", "--key", tc.key, "--pin-stdin", "--out", sig, doc}
	if tc.detached {
		args = append(args, "--detached")
	}
	mustRun(t, tc.pin+"\n", args...)
	ca := filepath.Join(dir, tc.ca)
	if r := mustRun(t, "", "verify", doc, sig, "--ca", ca); !strings.Contains(r.out, "signature valid") {
		t.Errorf("jpki verify: %s", r.out)
	}
	content := filepath.Join(dir, "content")
	ossl := []string{"cms", "-verify", "-binary", "-inform", "DER", "-in", sig, "-CAfile", ca, "-purpose", "any", "-out", content}
	if tc.detached {
		ossl = append(ossl, "-content", doc)
	}
	out, err := exec.Command("openssl", ossl...).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Verification successful") {
		t.Fatalf("openssl cms -verify (%s key, detached %v): %v\n%s", tc.key, tc.detached, err, out)
	}
	want, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(content); string(got) != string(want) {
		t.Errorf("openssl gives content %q, want %q", got, want)
	}
	return sig
}

func TestSignVerifyWithOpenSSL(t *testing.T) {
	insert(t, 0)
	dir := t.TempDir()
	doc := filepath.Join(dir, "doc.txt")
	os.WriteFile(doc, []byte("a document to sign\n"), 0o644)
	mustRun(t, "", "certs", "--out", dir)
	for _, tc := range cmsCases {
		sig := signAndVerify(t, dir, doc, tc)
		bad := filepath.Join(dir, "bad.txt")
		os.WriteFile(bad, []byte("another document\n"), 0o644)
		if r := run(t, "", "verify", bad, sig, "--ca", filepath.Join(dir, tc.ca)); r.code == 0 {
			t.Errorf("jpki verify accepted a signature over another document")
		}
	}
}

func TestPDFSignValidForPdfsig(t *testing.T) {
	insert(t, 0)
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.pdf"), filepath.Join(dir, "out.pdf")
	if err := os.WriteFile(in, testpdf.Minimal("Hello JPKI"), 0o644); err != nil {
		t.Fatal(err)
	}
	mark := pc.Mark()
	start := time.Now()
	mustRun(t, "ABC123\n", "pdf", "sign", in, out, "--pin-stdin", "--reason", "test", "--location", "Tokyo")
	t.Logf("pdf sign took %v", time.Since(start))
	if n := verifyAPDUs(t, mark); n != 1 {
		t.Errorf("%d VERIFY commands with a PIN, want 1", n)
	}
	res, err := exec.Command("pdfsig", out).CombinedOutput()
	if err != nil || !strings.Contains(string(res), "Signature is Valid") {
		t.Fatalf("pdfsig: %v\n%s", err, res)
	}
	for _, want := range []string{"SHA-256", "Total document signed", "Signature Type: ETSI.CAdES.detached"} {
		if !strings.Contains(string(res), want) {
			t.Errorf("pdfsig output lacks %q:\n%s", want, res)
		}
	}
	if r := run(t, "ABC123\n", "pdf", "sign", out, out, "--pin-stdin"); r.code == 0 {
		t.Errorf("pdf sign over its own input succeeded")
	}
}
