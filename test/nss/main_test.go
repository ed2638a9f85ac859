// Package nss drives NSS-based programs with build/jpki-pkcs11.so against a virtual
// My Number Card behind a private pcscd (issues "One PIN for one job" and "Works in
// the programs people use"): modutil/certutil, poppler's pdfsig and Firefox ESR
// headless (TLS client authentication, driven over Marionette). docs/ONE-PIN.md
// explains what NSS does with the two tokens and why.
package nss

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jpki-pkcs11/jpki-pkcs11/test/clients/clienttest"
)

// fx is this test process's private pcscd and module.
var fx clienttest.Fixture

func TestMain(m *testing.M) { os.Exit(clienttest.Main(m, &fx)) }

// Nicknames NSS gives the card's certificates ("<token label>:<CKA_LABEL>").
const (
	authNick   = clienttest.AuthToken + ":User Authentication Certificate"
	authCANick = clienttest.AuthToken + ":User Authentication CA Certificate"
	signNick   = clienttest.SignToken + ":Digital Signature Certificate"
	signCANick = clienttest.SignToken + ":Digital Signature CA Certificate"
)

// efSignCert matches, in the pcscd APDU log, an access to EF 0001 (the signature
// certificate: the holder's name, address, birth date): its SELECT, or a READ
// BINARY by short EF identifier 1 (P1 81), which the card layer uses.
const efSignCert = `^00 A4 02 0C 02 00 01\b|^00 B0 81 `

// newDB makes a fresh NSS database (empty password) in a temporary directory with
// the module added by modutil, as a user would, and returns its "sql:" path.
// extra are more modutil -add arguments (e.g. -string "tokens=auth").
func newDB(t *testing.T, env []string, extra ...string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "nssdb")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	db := "sql:" + dir
	clienttest.MustRun(t, env, "certutil", "-N", "-d", db, "--empty-password")
	args := append([]string{"-dbdir", db, "-add", "JPKI", "-libfile", fx.Module, "-force"}, extra...)
	clienttest.MustRun(t, env, "modutil", args...)
	// modutil -list exits non-zero for the empty slots of reader 1: read its output
	out, _ := clienttest.Run(t, env, "modutil", "-dbdir", db, "-list", "JPKI", "-force")
	clienttest.Contains(t, "modutil -list", out, "Library file: "+fx.Module)
	return db
}

// apdusSince counts the APDUs matching pattern in the pcscd log since mark.
func apdusSince(t *testing.T, mark int64, pattern string) int {
	t.Helper()
	n, err := fx.PC.CountAPDUs(mark, pattern)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// lacks fails the test if out contains any of the strings.
func lacks(t *testing.T, what, out string, not ...string) {
	t.Helper()
	for _, s := range not {
		if strings.Contains(out, s) {
			t.Fatalf("%s: output has %q:\n%s", what, s, out)
		}
	}
}

// writePassword writes an NSS password file (certutil -f) and returns its path.
func writePassword(t *testing.T, pw string) string {
	t.Helper()
	return clienttest.WriteFile(t, t.TempDir(), "pw", []byte(pw+"\n"), 0o600)
}
