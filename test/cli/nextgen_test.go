package cli_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jpki-pkcs11/jpki-pkcs11/test/testpdf"
)

// TestNextGeneration: on the virtual next-generation card (jpki-vcard new
// --generation next: ECDSA P-384, assumed commands) `jpki status` names the
// generation, `jpki sign` makes CMS signatures with ECDSA and SHA-384 with both
// keys (attached and detached) that `jpki verify` and `openssl cms -verify`
// accept against the card's CAs, and `jpki pdf sign` makes a PDF signature that
// pdfsig reports valid; each signature costs one VERIFY.
func TestNextGeneration(t *testing.T) {
	insert(t, 0, "--generation", "next", "--auth-pin", "1234", "--sign-pin", "ABC123")
	r := mustRun(t, "", "status")
	for _, want := range []string{"card: My Number Card\n", "generation: next (ECDSA P-384 keys",
		"authentication PIN: 3 tries left", "signature password: 5 tries left"} {
		if !strings.Contains(r.out, want) {
			t.Fatalf("status lacks %q:\n%s", want, r.out)
		}
	}
	if rs := status(t); rs[0].Card != "my_number" {
		t.Fatalf("status --json: card %q", rs[0].Card)
	}
	dir := t.TempDir()
	doc := filepath.Join(dir, "doc.txt")
	os.WriteFile(doc, []byte("a document for the next card generation\n"), 0o644)
	mustRun(t, "", "certs", "--out", dir)
	for _, tc := range cmsCases {
		mark := pc.Mark()
		sig := signAndVerify(t, dir, doc, tc)
		if n := verifyAPDUs(t, mark); n != 1 {
			t.Errorf("jpki sign --key %s: %d VERIFY commands with a PIN, want 1", tc.key, n)
		}
		info, err := exec.Command("openssl", "cms", "-cmsout", "-print", "-inform", "DER", "-in", sig).CombinedOutput()
		if err != nil {
			t.Fatalf("openssl cms -cmsout -print: %v\n%s", err, info)
		}
		for _, want := range []string{"algorithm: sha384", "algorithm: ecdsa-with-SHA384", "secp384r1"} {
			if !strings.Contains(string(info), want) {
				t.Errorf("the %s key's CMS signature lacks %q", tc.key, want)
			}
		}
	}
	in, out := filepath.Join(dir, "in.pdf"), filepath.Join(dir, "out.pdf")
	os.WriteFile(in, testpdf.Minimal("Signed with the next card generation"), 0o644)
	mark := pc.Mark()
	mustRun(t, "ABC123\n", "pdf", "sign", in, out, "--pin-stdin", "--reason", "test")
	if n := verifyAPDUs(t, mark); n != 1 {
		t.Errorf("jpki pdf sign: %d VERIFY commands with a PIN, want 1", n)
	}
	res, err := exec.Command("pdfsig", out).CombinedOutput()
	if err != nil || !strings.Contains(string(res), "Signature is Valid") || !strings.Contains(string(res), "Signature Type: ETSI.CAdES.detached") {
		t.Fatalf("pdfsig: %v\n%s", err, res)
	}
}
