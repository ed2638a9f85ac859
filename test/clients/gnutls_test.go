package clients

import (
	"fmt"
	"strings"
	"testing"

	"github.com/jpki-pkcs11/jpki-pkcs11/test/clients/clienttest"
)

// GnuTLS loads the module with --provider (p11tool, gnutls-cli); the PIN comes from
// GNUTLS_PIN.

// TestP11toolListTokens: `p11tool --list-token-urls` gives the card's two tokens.
func TestP11toolListTokens(t *testing.T) {
	sharedTokens(t)
	out := clienttest.MustRun(t, clienttest.Env(t), "p11tool", "--provider", fx.Module, "--list-token-urls")
	for _, tok := range []string{clienttest.AuthToken, clienttest.SignToken} {
		clienttest.Contains(t, "p11tool --list-token-urls", out, "token="+clienttest.URIEscape(tok))
	}
}

// TestP11toolListAll: `p11tool --login --list-all` lists each token's objects;
// the signature token lists its key and the holder's certificate only with login
// (the authentication key may be public: docs/ONE-PIN.md).
func TestP11toolListAll(t *testing.T) {
	sharedTokens(t)
	for _, c := range []struct {
		token, pin string
		public     []string // listed without login
		private    []string // listed only after login
		key        string   // listed after login
	}{
		{clienttest.AuthToken, clienttest.AuthPIN,
			[]string{"User Authentication Certificate", "User Authentication Public Key", "User Authentication CA Certificate"},
			nil, "User Authentication Key"},
		{clienttest.SignToken, clienttest.SignPIN,
			[]string{"Digital Signature CA Certificate"},
			[]string{"Digital Signature Certificate;", "Digital Signature Public Key", "Digital Signature Key;"}, "Digital Signature Key"},
	} {
		t.Run(strings.ReplaceAll(c.token, " ", "_"), func(t *testing.T) {
			uri := "pkcs11:token=" + clienttest.URIEscape(c.token)
			pub := clienttest.MustRun(t, clienttest.Env(t), "p11tool", "--provider", fx.Module, "--list-all", uri)
			login := clienttest.MustRun(t, clienttest.Env(t, "GNUTLS_PIN="+c.pin), "p11tool", "--provider", fx.Module,
				"--login", "--list-all", uri)
			for _, l := range c.public {
				clienttest.Contains(t, "p11tool --list-all", pub, "object="+clienttest.URIEscape(strings.TrimSuffix(l, ";")))
				clienttest.Contains(t, "p11tool --login --list-all", login, "object="+clienttest.URIEscape(strings.TrimSuffix(l, ";")))
			}
			for _, l := range c.private {
				obj := "object=" + clienttest.URIEscape(strings.TrimSuffix(l, ";"))
				if strings.HasSuffix(l, ";") {
					obj += ";"
				}
				if strings.Contains(pub, obj) {
					t.Fatalf("%q listed without login:\n%s", l, pub)
				}
				clienttest.Contains(t, "p11tool --login --list-all", login, obj)
			}
			clienttest.Contains(t, "p11tool --login --list-all", login, "Type: Private key (RSA-2048)",
				"object="+clienttest.URIEscape(c.key)+";type=private")
		})
	}
}

// TestGnuTLSClientAuth: gnutls-cli with pkcs11: URIs for the certificate and the key
// completes TLS 1.2 client authentication against `openssl s_server -Verify 1`
// (gnutls-serv cannot be bound to the loopback interface), whose answer shows the
// client certificate it verified and how the client signed: with GnuTLS 3.7's
// default priorities and this server, RSA-PSS (CKM_RSA_PKCS_PSS); with priorities
// that allow only RSA-SHA256, PKCS#1 v1.5 (CKM_RSA_PKCS).
func TestGnuTLSClientAuth(t *testing.T) {
	tk := sharedTokens(t)
	dir := t.TempDir()
	srvCert, srvKey := serverCert(t, dir)
	caPEM := tk.card.PEM(t, "authca.der")
	cn := commonName(tk.card.Subject(t, "auth.der"))
	obj := "pkcs11:token=" + clienttest.URIEscape(clienttest.AuthToken) + ";id=%01"
	for _, c := range []struct {
		name, priority, sigType string
		mech                    int
	}{
		{"default", "NORMAL:-VERS-TLS1.3", "RSA-PSS", clienttest.CKM_RSA_PKCS_PSS},
		{"pkcs1-only", "NORMAL:-VERS-TLS1.3:-SIGN-ALL:+SIGN-RSA-SHA256", "RSA", clienttest.CKM_RSA_PKCS},
	} {
		t.Run(c.name, func(t *testing.T) {
			port := clienttest.FreePort(t)
			srv := clienttest.StartServer(t, port, nil, "openssl", "s_server", "-accept", fmt.Sprintf("127.0.0.1:%d", port),
				"-cert", srvCert, "-key", srvKey, "-CAfile", caPEM, "-Verify", "1", "-tls1_2", "-www")
			env := clienttest.Env(t, "GNUTLS_PIN="+clienttest.AuthPIN)
			// gnutls-cli hangs up at the end of its input: keep stdin open until the
			// page has come (s_server -www ends it with </HTML>)
			out, err := clienttest.RunStaged(t, env, []clienttest.Stage{{Input: "GET / HTTP/1.0\r\n\r\n"}}, "</HTML>", "gnutls-cli",
				"--provider", fx.Module, "--priority", c.priority, "--x509cafile", srvCert,
				"--x509certfile", obj+";type=cert", "--x509keyfile", obj+";type=private",
				"-p", fmt.Sprint(port), "localhost")
			clienttest.Contains(t, "gnutls-cli", out, "- Handshake was completed", "(TLS1.2-X.509)",
				"Successfully sent 1 certificate(s) to server", "HTTP/1.0 200 ok")
			if err != nil && !strings.Contains(out, "HTTP/1.0 200 ok") {
				t.Fatalf("gnutls-cli: %v\n%s", err, out)
			}
			_, page, _ := strings.Cut(out, "HTTP/1.0 200 ok")
			clienttest.Contains(t, "s_server page", page, "Client certificate", "Subject: C=JP, CN="+cn,
				"Peer signature type: "+c.sigType+"\n")
			srv.WaitOutput(t, "s_server log", "depth=0 C = JP, CN = "+cn)
			if m := clienttest.SignMechanisms(t, env); len(m) != 1 || m[0] != c.mech {
				t.Fatalf("signed with mechanisms %#x, want one %#x", m, c.mech)
			}
		})
	}
}
