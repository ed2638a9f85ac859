// Package nss drives NSS-based programs with build/jpki-pkcs11.so against a virtual
// My Number Card behind a private pcscd (issues "One PIN for one job" and "Works in
// the programs people use"): modutil/certutil, poppler's pdfsig and Firefox ESR
// headless (TLS client authentication, driven over Marionette). docs/ONE-PIN.md
// explains what NSS does with the two tokens and why.
package nss

import (
	"os"
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
