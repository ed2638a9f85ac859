// Package clients drives the programs people use with build/jpki-pkcs11.so against
// a virtual My Number Card behind a private pcscd (issue "Works in the programs
// people use"): OpenSSL's pkcs11 engine, GnuTLS, Java SunPKCS11, OpenSSH and p11-kit.
// One file per program. Servers listen on 127.0.0.1 high ports and are stopped by
// the test; everything else lives in t.TempDir(). NSS, Firefox and pdfsig are in
// test/nss, pkcs11-tool in test/module, Go (crypto11) in test/gop11.
package clients

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/jpki-pkcs11/jpki-pkcs11/test/clients/clienttest"
)

// fx is this test process's private pcscd and module.
var fx clienttest.Fixture

func TestMain(m *testing.M) { os.Exit(clienttest.Main(m, &fx)) }

// tokens is the shared card with the slot ids of its two tokens.
type tokens struct {
	card       *clienttest.Card
	auth, sign int
}

// sharedTokens serves the shared card and finds its slots with pkcs11-tool -L.
func sharedTokens(t *testing.T) tokens {
	t.Helper()
	c := fx.SharedCard(t)
	slots := fx.Slots(t, clienttest.Env(t))
	return tokens{card: c, auth: clienttest.TokenSlot(t, slots, clienttest.AuthToken),
		sign: clienttest.TokenSlot(t, slots, clienttest.SignToken)}
}

// authAlwaysAuthenticate tells whether the authentication key is public and
// CKA_ALWAYS_AUTHENTICATE before any login (the one-PIN layout, docs/ONE-PIN.md):
// then a client that does not log in to the token gives the PIN with a
// context-specific login at the signature.
func authAlwaysAuthenticate(t *testing.T, tk tokens) bool {
	t.Helper()
	out := fx.MustPKCS11Tool(t, clienttest.Env(t), "--slot", strconv.Itoa(tk.auth), "-O")
	k, ok := clienttest.Find(clienttest.ParseObjects(out), "Private Key", "User Authentication Key")
	return ok && strings.Contains(k.Access, "always authenticate")
}
