package nss

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jpki-pkcs11/jpki-pkcs11/test/clients/clienttest"
	"github.com/jpki-pkcs11/jpki-pkcs11/test/testpdf"
)

// TestPdfsig: poppler's pdfsig signs a PDF through NSS with the signature key while
// both tokens of the card are present, given only the signature password, and then
// reports the signature valid and names the card holder as signer. pdfsig answers
// NSS's password callback once and gives up at a second call
// (utils/pdfsig.cc getAvailableSigningCertificates): it works because the
// signature token is the only one that requires a login (docs/ONE-PIN.md).
func TestPdfsig(t *testing.T) {
	c := fx.SharedCard(t)
	env := clienttest.Env(t)
	db := fx.NSSDB(t, env)
	// trust the card's signature CA, as a user who checks signatures would
	clienttest.MustRun(t, env, "certutil", "-A", "-d", db, "-n", "JPKI signature CA", "-t", "C,C,C",
		"-i", c.PEM(t, "signca.der"))
	dir := t.TempDir()
	in := filepath.Join(dir, "in.pdf")
	if err := os.WriteFile(in, testpdf.Minimal("A document signed with a My Number Card"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "signed.pdf")

	mark := fx.PC.Mark()
	log := clienttest.MustRun(t, env, "pdfsig", in, out, "-add-signature", "-nssdir", db,
		"-nick", signNick, "-nss-pwd", clienttest.SignPIN, "-reason", "test")
	if fi, err := os.Stat(out); err != nil || fi.Size() <= int64(len(testpdf.Minimal(""))) {
		t.Fatalf("pdfsig wrote no signed PDF (%v):\n%s", err, log)
	}
	// one VERIFY with a PIN reached the card: the signature password
	if n := fx.APDUsSince(t, mark, `^00 20 00 80 [0-9A-F]{2} `); n != 1 {
		t.Fatalf("%d VERIFY commands with a PIN during pdfsig, want 1 (the signature password)", n)
	}
	if mechs := clienttest.SignMechanisms(t, env); len(mechs) == 0 {
		t.Fatal("pdfsig did not sign through the module")
	}

	v := clienttest.MustRun(t, env, "pdfsig", "-nssdir", db, out)
	cn := commonName(c.Subject(t, "sign.der"))
	if cn == "" {
		t.Fatal("no CN in the signature certificate")
	}
	clienttest.Contains(t, "pdfsig (verify)", v, "Signature is Valid", "Certificate is Trusted",
		"Signer Certificate Common Name: "+cn)
}

// commonName is the CN of an RFC 2253 subject.
func commonName(subject string) string {
	for _, rdn := range strings.Split(subject, ",") {
		if v, ok := strings.CutPrefix(rdn, "CN="); ok {
			return v
		}
	}
	return ""
}
