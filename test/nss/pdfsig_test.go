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
	shutdownClean(t, env, log, v)
}

// nssBusy is what pdfsig prints when NSS_Shutdown finds references still held.
const nssBusy = "NSS_Shutdown failed: NSS could not shutdown. Objects are still in use."

// shutdownClean: after a signature made with the module, pdfsig may print nssBusy
// only where it prints it with no module at all: poppler 22.12 (Debian 12) never
// releases the signing certificate it looked up by nickname (SignatureHandler's
// destructor; poppler issue #1326, fixed in 23.02 by "Fix \"NSS could not
// shutdown\""), whatever token holds the key. The module holds nothing NSS
// counts: the verification, which loads it and lists its tokens too, shuts NSS
// down cleanly. signLog and verifyLog are the outputs of the two runs with the
// module.
func shutdownClean(t *testing.T, env []string, signLog, verifyLog string) {
	t.Helper()
	if strings.Contains(verifyLog, nssBusy) {
		t.Fatalf("pdfsig's verification with the module loaded: %q", nssBusy)
	}
	if !strings.Contains(signLog, nssBusy) {
		return
	}
	// the same signature with a key in NSS's own database and no module
	dir := t.TempDir()
	db := "sql:" + dir
	clienttest.MustRun(t, env, "certutil", "-N", "-d", db, "--empty-password")
	noise := clienttest.WriteFile(t, dir, "noise", []byte(strings.Repeat("jpki-pkcs11 noise ", 20)), 0o600)
	clienttest.MustRun(t, env, "certutil", "-S", "-d", db, "-n", "soft signer", "-s", "CN=soft signer", "-x",
		"-t", "CT,C,C", "-k", "rsa", "-g", "2048", "-z", noise, "--keyUsage", "digitalSignature")
	in := clienttest.WriteFile(t, dir, "in.pdf", testpdf.Minimal("signed in NSS's own database"), 0o644)
	soft := clienttest.MustRun(t, env, "pdfsig", in, filepath.Join(dir, "out.pdf"), "-add-signature", "-nssdir", db,
		"-nick", "soft signer", "-nss-pwd", "", "-reason", "test")
	if !strings.Contains(soft, nssBusy) {
		t.Fatalf("pdfsig printed %q after signing with the module, but not after signing with NSS's own key: "+
			"the module holds something NSS counts", nssBusy)
	}
	t.Logf("pdfsig prints %q with NSS's own key as well: poppler's leak (issue #1326, fixed in poppler 23.02)", nssBusy)
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
