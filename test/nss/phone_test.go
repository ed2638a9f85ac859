package nss

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/jpki-pkcs11/jpki-pkcs11/session"
	"github.com/jpki-pkcs11/jpki-pkcs11/test/clients/clienttest"
	"github.com/jpki-pkcs11/jpki-pkcs11/test/testpdf"
)

// TestFirefoxClientAuthPhone: the Android smartphone certificate in Firefox. Its
// authentication token requires a login (the phone shows the certificate only
// after the PIN) and has no public-certificates profile, so Firefox logs in to
// it when a site asks for a client certificate: one prompt, for "JPKI
// Smartphone Authentication", one VERIFY, then the handshakes of two pages sign
// without another prompt; the signature token is never logged in to and EF 0001
// never read (firefoxLogin). That is as good as the phone allows: the prompt
// comes when the certificates are listed instead of at the signature.
//
// The shared card is pulled out meanwhile: two authentication certificates from
// CAs of one name would leave Firefox's automatic choice to chance.
func TestFirefoxClientAuthPhone(t *testing.T) {
	pullShared(t)
	firefoxLogin(t, fx.StartCard(t, 1, "--phone", "android"), session.PhoneAuthTokenLabel)
}

// pullShared takes the shared card out of its reader until the test ends.
func pullShared(t *testing.T) {
	t.Helper()
	fx.PullShared(t)
}

// TestPdfsigPhone: pdfsig with the smartphone certificate. Both of the phone's
// tokens require a login, pdfsig logs in to every such token and answers its
// password callback once (docs/ONE-PIN.md): with both tokens shown it cannot
// sign, and it sends the card no PIN; with the signature token alone
// (JPKI_PKCS11_TOKENS=sign) it signs with one VERIFY and the signature is valid.
func TestPdfsigPhone(t *testing.T) {
	pullShared(t)
	c := fx.StartCard(t, 1, "--phone", "android")
	env := clienttest.Env(t)
	db := fx.NSSDB(t, env)
	clienttest.MustRun(t, env, "certutil", "-A", "-d", db, "-n", "JPKI signature CA", "-t", "C,C,C", "-i", c.PEM(t, "signca.der"))
	dir := t.TempDir()
	in := filepath.Join(dir, "in.pdf")
	if err := os.WriteFile(in, testpdf.Minimal("Signed with a smartphone certificate"), 0o644); err != nil {
		t.Fatal(err)
	}
	nick := session.PhoneSignTokenLabel + ":Digital Signature Certificate"
	sign := func(env []string, out string) (string, error) {
		return clienttest.Run(t, env, "pdfsig", in, out, "-add-signature", "-nssdir", db, "-nick", nick,
			"-nss-pwd", clienttest.SignPIN, "-reason", "test")
	}
	mark := fx.PC.Mark()
	if log, err := sign(env, filepath.Join(dir, "both.pdf")); err == nil {
		t.Fatalf("pdfsig signed with both phone tokens shown:\n%s", log)
	}
	if n := fx.APDUsSince(t, mark, `^00 20 00 80 [0-9A-F]{2} `); n > 1 {
		t.Fatalf("%d VERIFY commands with a PIN in the failed pdfsig run", n)
	}
	out := filepath.Join(dir, "sign.pdf")
	mark = fx.PC.Mark()
	signEnv := append(env, "JPKI_PKCS11_TOKENS=sign")
	if log, err := sign(signEnv, out); err != nil {
		t.Fatalf("pdfsig with JPKI_PKCS11_TOKENS=sign: %v\n%s", err, log)
	}
	if n := fx.APDUsSince(t, mark, `^00 20 00 80 [0-9A-F]{2} `); n != 1 {
		t.Fatalf("%d VERIFY commands with a PIN, want 1", n)
	}
	clienttest.Contains(t, "pdfsig (verify)", clienttest.MustRun(t, signEnv, "pdfsig", "-nssdir", db, out), "Signature is Valid")
}
