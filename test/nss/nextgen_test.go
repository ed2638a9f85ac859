package nss

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jpki-pkcs11/jpki-pkcs11/test/clients/clienttest"
	"github.com/jpki-pkcs11/jpki-pkcs11/test/testpdf"
)

// efNextSignCert matches, in the pcscd APDU log, the SELECT of the next
// generation's signature certificate (card/nextgen: EF 0121, assumed).
const efNextSignCert = `^00 A4 02 0C 02 01 21\b`

// TestNextGenerationNSS: NSS with the virtual next-generation card (ECDSA
// P-384): certutil -L lists the authentication certificate as a user
// certificate and both CA certificates without a login, never the signature
// certificate (not even read); certutil -K shows both EC keys (the signature key
// after its password); pdfsig signs a PDF with the signature key (ECDSA, one
// VERIFY) and reports the signature valid, the certificate trusted and the
// holder as signer. The shared card is pulled out meanwhile (its tokens have the
// same labels).
//
// poppler 22.12 reserves room for the signature from a first signature and
// fails ("unable update signature") when the real one's DER is longer, which
// happens with about half of all ECDSA signatures, with a key in NSS's own
// database as well: the virtual next-generation card signs with r and s of full
// length (vcard/nextgen.go), so that this test is deterministic (README, "The
// next card generation").
func TestNextGenerationNSS(t *testing.T) {
	pullShared(t)
	c := fx.StartCard(t, 1, "--generation", "next")
	env := clienttest.Env(t)
	mark := fx.PC.Mark()
	db := fx.NSSDB(t, env)
	out := clienttest.MustRun(t, env, "certutil", "-L", "-d", db, "-h", "all")
	clienttest.Contains(t, "certutil -L -h all", out, authNick, authCANick, signCANick)
	lacks(t, "certutil -L -h all", out, signNick)
	for _, line := range lines(out) {
		if strings.HasPrefix(line, authNick+" ") && !containsField(line, "u,u,u") {
			t.Fatalf("authentication certificate is not a user certificate: %q", line)
		}
	}
	if n := fx.APDUsSince(t, mark, efNextSignCert); n != 0 {
		t.Fatalf("the signature certificate was read %d times without the signature password", n)
	}
	out = clienttest.MustRun(t, env, "certutil", "-K", "-d", db, "-h", clienttest.AuthToken)
	clienttest.Contains(t, "certutil -K (authentication)", out, "> ec ", "User Authentication Key")
	pw := writePassword(t, clienttest.SignPIN)
	out = clienttest.MustRun(t, env, "certutil", "-K", "-d", db, "-h", clienttest.SignToken, "-f", pw)
	clienttest.Contains(t, "certutil -K -f", out, "> ec ", "Digital Signature Key")

	clienttest.MustRun(t, env, "certutil", "-A", "-d", db, "-n", "JPKI signature CA", "-t", "C,C,C", "-i", c.PEM(t, "signca.der"))
	dir := t.TempDir()
	in, signed := filepath.Join(dir, "in.pdf"), filepath.Join(dir, "signed.pdf")
	if err := os.WriteFile(in, testpdf.Minimal("Signed with the next card generation"), 0o644); err != nil {
		t.Fatal(err)
	}
	mark = fx.PC.Mark()
	log := clienttest.MustRun(t, env, "pdfsig", in, signed, "-add-signature", "-nssdir", db,
		"-nick", signNick, "-nss-pwd", clienttest.SignPIN, "-reason", "test")
	if _, err := os.Stat(signed); err != nil {
		t.Fatalf("pdfsig wrote no signed PDF:\n%s", log)
	}
	if n := fx.APDUsSince(t, mark, `^00 20 00 82 [0-9A-F]{2} `); n != 1 {
		t.Fatalf("%d VERIFY commands with the signature password during pdfsig, want 1", n)
	}
	if m := clienttest.SignMechanisms(t, env); len(m) == 0 {
		t.Fatal("pdfsig did not sign through the module")
	}
	v := clienttest.MustRun(t, env, "pdfsig", "-nssdir", db, signed)
	clienttest.Contains(t, "pdfsig (verify)", v, "Signature is Valid", "Certificate is Trusted",
		"Signer Certificate Common Name: "+commonName(c.Subject(t, "sign.der")))
}
