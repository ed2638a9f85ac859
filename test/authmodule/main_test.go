// Package authmodule tests the authentication-only entry point
// build/jpki-pkcs11-auth.so (issue "Install it like any other smart-card driver"):
// loaded instead of jpki-pkcs11.so, with no environment variable and no module
// parameter, it shows one login-required token, JPKI Authentication, and the
// README's recipes that need that work: openssl s_client with pin-value, a Java
// SSLSocket client with a SunPKCS11 keystore, and ssh-add -s (ssh-agent).
package authmodule

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/jpki-pkcs11/jpki-pkcs11/test/clients/clienttest"
	"github.com/jpki-pkcs11/jpki-pkcs11/test/harness"
)

var fx clienttest.Fixture

func TestMain(m *testing.M) { os.Exit(clienttest.Main(m, &fx)) }

var auth struct {
	sync.Once
	path string
	err  error
}

// authModule is a private copy of build/jpki-pkcs11-auth.so beside the fixture's
// copy of the module (the entry point loads jpki-pkcs11.so from its own folder).
func authModule(t *testing.T) string {
	t.Helper()
	auth.Do(func() {
		built, err := harness.Build("build/jpki-pkcs11-auth.so")
		if err != nil {
			auth.err = err
			return
		}
		b, err := os.ReadFile(built)
		if err != nil {
			auth.err = err
			return
		}
		auth.path = filepath.Join(filepath.Dir(fx.Module), "jpki-pkcs11-auth.so")
		auth.err = os.WriteFile(auth.path, b, 0o755)
	})
	if auth.err != nil {
		t.Fatal(auth.err)
	}
	return auth.path
}

// env is the environment of a program loading the entry point: no JPKI_PKCS11_*
// setting but the debug log.
func env(t *testing.T, extra ...string) []string {
	t.Helper()
	var out []string
	for _, e := range clienttest.Env(t) {
		if strings.HasPrefix(e, "JPKI_PKCS11_TOKENS=") {
			continue
		}
		out = append(out, e)
	}
	return append(out, extra...)
}

// authSlot serves the shared card and returns the entry point's only slot with a
// token, checking that it is the authentication token and requires a login.
func authSlot(t *testing.T) (*clienttest.Card, int) {
	t.Helper()
	c := fx.SharedCard(t)
	out := clienttest.MustRun(t, env(t), "pkcs11-tool", "--module", authModule(t), "-L")
	var withToken []clienttest.Slot
	for _, s := range clienttest.ParseSlots(out) {
		if s.Token != "" {
			withToken = append(withToken, s)
		}
	}
	if len(withToken) != 1 || withToken[0].Token != clienttest.AuthToken {
		t.Fatalf("jpki-pkcs11-auth.so shows %d tokens, want only %q:\n%s", len(withToken), clienttest.AuthToken, out)
	}
	if !strings.Contains(withToken[0].Flags, "login required") {
		t.Fatalf("the authentication token is not login-required through jpki-pkcs11-auth.so: %q", withToken[0].Flags)
	}
	return c, withToken[0].ID
}
