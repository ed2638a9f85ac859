package tls13

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/jpki-pkcs11/jpki-pkcs11/test/clients/clienttest"
)

// ecdsaOnly fails the test unless the client signed, and only with an ECDSA
// mechanism of the next generation's key.
func ecdsaOnly(t *testing.T, env []string) []int {
	t.Helper()
	m := clienttest.SignMechanisms(t, env)
	if len(m) == 0 || slices.ContainsFunc(m, func(x int) bool {
		return x != clienttest.CKM_ECDSA && x != clienttest.CKM_ECDSA_SHA256 && x != clienttest.CKM_ECDSA_SHA384
	}) {
		t.Fatalf("signed with mechanisms %#x, want ECDSA ones", m)
	}
	return m
}

// ecdsaP384SHA384 is what s_server's page says of a client that signed with
// ecdsa_secp384r1_sha384.
var ecdsaP384SHA384 = []string{"Client certificate", "Peer signing digest: SHA384", "Peer signature type: ECDSA\n"}

// TestNextGenerationFirefox: Firefox ESR headless, in one start, completes
// client authentication with the virtual next-generation card's ECDSA P-384
// key against a TLS 1.3-only s_server (its default signature algorithms) and
// a TLS 1.2-only one that asks for ecdsa_secp384r1_sha384: each visit starts
// logged out with no TLS session to resume, asks the PIN once (for the
// authentication token) and signs the handshake with CKM_ECDSA on the card
// (NSS hashes: session/mech.go, ecdsaInfo); the server verified the card's
// certificate and the signature.
func TestNextGenerationFirefox(t *testing.T) {
	c, _, _ := cardSlots(t, 0, "--generation", "next")
	p := clienttest.NewServerPKI(t, "tls13 test server CA")
	ca := c.PEM(t, "authca.der")
	port13, _ := tlsServer(t, p, ca, "1_3")
	port12, _ := tlsServer(t, p, ca, "1_2", "-client_sigalgs", "ECDSA+SHA384")
	env := clienttest.Env(t)
	runs := visitAllWithFirefox(t, env, fx.Module, p.CA, clienttest.AuthPIN,
		fmt.Sprintf("https://127.0.0.1:%d/", port13), fmt.Sprintf("https://127.0.0.1:%d/", port12))
	for i, ver := range []string{"TLSv1.3", "TLSv1.2"} {
		run := runs[i]
		if run.NavErr != nil {
			t.Fatalf("%s: navigation: %v (prompts %q)", ver, run.NavErr, run.Prompts)
		}
		clienttest.Contains(t, "s_server page in Firefox ("+ver+")", run.Page, append([]string{ver}, ecdsaP384SHA384...)...)
		if len(run.Prompts) != 1 || !strings.HasPrefix(run.Prompts[0], "password: ") || !strings.Contains(run.Prompts[0], clienttest.AuthToken) {
			t.Fatalf("%s: prompts %q, want one PIN prompt for %q", ver, run.Prompts, clienttest.AuthToken)
		}
	}
	if m := ecdsaOnly(t, env); len(m) < 2 {
		t.Fatalf("Firefox signed %d handshakes through the module, want 2", len(m))
	}
}

// TestNextGenerationOpenSSLAndGnuTLS: openssl s_client with the pkcs11 engine
// (the PIN in the URI's pin-value, with the authentication token shown alone:
// see TestOpenSSLTLS13) and gnutls-cli with its default priorities (the PIN
// from GNUTLS_PIN) complete TLS 1.3 client authentication with the virtual
// next-generation card's key against a TLS 1.3-only s_server:
// ecdsa_secp384r1_sha384, signed on the card with an ECDSA mechanism.
func TestNextGenerationOpenSSLAndGnuTLS(t *testing.T) {
	c, _, _ := cardSlots(t, 0, "--generation", "next")
	p := clienttest.NewServerPKI(t, "tls13 test server CA")
	ca := c.PEM(t, "authca.der")
	t.Run("openssl", func(t *testing.T) {
		port, srv := tlsServer(t, p, ca, "1_3")
		env := clienttest.Env(t, "PKCS11_MODULE_PATH="+fx.Module, "JPKI_PKCS11_TOKENS=auth")
		out, err := clienttest.RunIn(t, "", []byte("GET / HTTP/1.0\r\n\r\n"), env, "openssl", "s_client",
			"-connect", fmt.Sprintf("127.0.0.1:%d", port), "-tls1_3", "-engine", "pkcs11", "-keyform", "engine",
			"-key", authURI("private")+";pin-value="+clienttest.AuthPIN, "-cert", c.PEM(t, "auth.der"),
			"-CAfile", p.CA, "-verify_return_error", "-ign_eof")
		if err != nil {
			libp11PINPrompt(t, out)
			t.Fatalf("s_client: %v\n%s", err, out)
		}
		clienttest.Contains(t, "s_client", out, "Protocol  : TLSv1.3", "Verify return code: 0 (ok)", "HTTP/1.0 200 ok")
		_, page, _ := strings.Cut(out, "HTTP/1.0 200 ok")
		clienttest.Contains(t, "s_server page", page, ecdsaP384SHA384...)
		srv.WaitOutput(t, "s_server", "depth=0 C = JP, CN = ")
		ecdsaOnly(t, env)
	})
	t.Run("gnutls-cli", func(t *testing.T) {
		port, _ := tlsServer(t, p, ca, "1_3")
		env := clienttest.Env(t, "GNUTLS_PIN="+clienttest.AuthPIN)
		out := gnutlsClient(t, env, p.CA, port)
		clienttest.Contains(t, "gnutls-cli", out, append([]string{"- Handshake was completed", "(TLS1.3"}, ecdsaP384SHA384...)...)
		ecdsaOnly(t, env)
	})
}
