// Package clients drives the programs people use with build/jpki-pkcs11.so against
// a virtual My Number Card behind a private pcscd (issue "Works in the programs
// people use"): OpenSSL's pkcs11 engine, GnuTLS, Java SunPKCS11, OpenSSH and p11-kit.
// One file per program. Servers listen on 127.0.0.1 high ports and are stopped by
// the test; everything else lives in t.TempDir(). NSS, Firefox and pdfsig are in
// test/nss, pkcs11-tool in test/module, Go (crypto11) in test/gop11.
package clients

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

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

// runHeldStdin runs name args with stdin that gives input and then stays open (a
// client that must not hang up before the server answers) until the program exits
// or hold passes. It returns the combined output and the error.
func runHeldStdin(t *testing.T, env []string, input string, hold time.Duration, name string, args ...string) (string, error) {
	t.Helper()
	return runStaged(t, env, []stage{{input, ""}}, hold, name, args...)
}

// stage is a piece of stdin written once the program's output contains after
// ("" at once).
type stage struct{ input, after string }

// runStaged runs name args and writes the stages to its stdin in order, each once
// the output shows its marker (a PIN prompt answered before the request, say);
// stdin stays open until the program exits or hold passes after the last stage.
func runStaged(t *testing.T, env []string, stages []stage, hold time.Duration, name string, args ...string) (string, error) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), clienttest.DefaultTimeout)
	defer cancel()
	cmd := clienttest.Cmd(ctx, env, name, args...)
	cmd.Stdin = r
	var out clienttest.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		w.Close()
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer w.Close()
		for _, s := range stages {
			for s.after != "" && !strings.Contains(out.String(), s.after) {
				select {
				case <-done:
					return
				case <-time.After(20 * time.Millisecond):
				}
			}
			if _, err := w.WriteString(s.input); err != nil {
				return
			}
		}
		select {
		case <-done:
		case <-time.After(hold):
		}
	}()
	err = cmd.Wait()
	close(done)
	return out.String(), err
}
