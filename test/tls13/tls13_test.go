// Package tls13 checks TLS 1.3 client authentication with the card's
// authentication key (issue "TLS 1.3 client authentication: RSA-PSS through the
// card's own PSS scheme") with the real programs, against virtual My Number Cards
// behind a private pcscd: pkcs11-tool PSS signatures verified by openssl, the
// mechanism lists of a card with and without PSS, openssl s_client (pkcs11
// engine), gnutls-cli and Firefox ESR headless (test/tls13/marionette_test.go)
// against TLS 1.3-only servers, and TLS 1.2 with PKCS#1 v1.5 on a card generation
// without PSS. Servers listen on 127.0.0.1 high ports and stop with the test.
package tls13

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jpki-pkcs11/jpki-pkcs11/test/clients/clienttest"
	"github.com/jpki-pkcs11/jpki-pkcs11/test/harness"
)

// fx is this test process's private pcscd and module.
var fx clienttest.Fixture

func TestMain(m *testing.M) { os.Exit(clienttest.Main(m, &fx)) }

// Mechanism names as pkcs11-tool -M prints them.
const (
	toolPSS       = "RSA-PKCS-PSS"
	toolSHA256PSS = "SHA256-RSA-PKCS-PSS"
)

// cardSlots serves a new card (extra `jpki-vcard new` flags in args) into reader i
// and returns it with the slot ids of its two tokens.
func cardSlots(t *testing.T, i int, args ...string) (c *clienttest.Card, auth, sign int) {
	t.Helper()
	c = fx.StartCard(t, i, args...)
	out := fx.MustPKCS11Tool(t, clienttest.Env(t), "-L")
	var mine []clienttest.Slot
	for _, s := range clienttest.ParseSlots(out) {
		if strings.Contains(s.Description, harness.ReaderName(i)) {
			mine = append(mine, s)
		}
	}
	return c, clienttest.TokenSlot(t, mine, clienttest.AuthToken), clienttest.TokenSlot(t, mine, clienttest.SignToken)
}

// tlsServer starts `openssl s_server -www` on a free port, requiring a client
// certificate issued by clientCA and accepting only TLS version ver ("1_2" or
// "1_3"), with more s_server arguments extra; it returns the port and the server.
func tlsServer(t *testing.T, p clienttest.ServerPKI, clientCA, ver string, extra ...string) (int, *clienttest.Server) {
	t.Helper()
	port := clienttest.FreePort(t)
	srv := clienttest.StartServer(t, port, nil, "openssl", append([]string{"s_server", "-accept", fmt.Sprintf("127.0.0.1:%d", port),
		"-cert", p.Cert, "-key", p.Key, "-CAfile", clientCA, "-Verify", "1", "-www", "-tls" + ver}, extra...)...)
	return port, srv
}

// authURI is the pkcs11: URI of the authentication token's object of type typ.
func authURI(typ string) string {
	return "pkcs11:token=" + clienttest.URIEscape(clienttest.AuthToken) + ";id=%01;type=" + typ
}

// TestMechanismList: a card with PSS lists CKM_RSA_PKCS_PSS on both tokens
// (pkcs11-tool -M); a card generation without PSS lists no PSS mechanism at all.
func TestMechanismList(t *testing.T) {
	_, auth, sign := cardSlots(t, 0)
	_, oldAuth, oldSign := cardSlots(t, 1, "--no-pss")
	env := clienttest.Env(t)
	for _, slot := range []int{auth, sign} {
		out := fx.MustPKCS11Tool(t, env, "--slot", fmt.Sprint(slot), "-M")
		clienttest.Contains(t, "pkcs11-tool -M (PSS card)", out, toolPSS+", keySize={2048,2048}, hw, sign, verify",
			"SHA256-RSA-PKCS, keySize={2048,2048}, hw, sign, verify")
	}
	for _, slot := range []int{oldAuth, oldSign} {
		out := fx.MustPKCS11Tool(t, env, "--slot", fmt.Sprint(slot), "-M")
		clienttest.Contains(t, "pkcs11-tool -M (no-PSS card)", out, "SHA256-RSA-PKCS, keySize={2048,2048}, hw, sign, verify")
		if strings.Contains(out, "PSS") {
			t.Fatalf("a card without PSS lists a PSS mechanism:\n%s", out)
		}
	}
}

// TestPKCS11ToolPSS: pkcs11-tool signs with SHA256-RSA-PKCS-PSS (the host hashes)
// and RSA-PKCS-PSS (pkcs11-tool hashes) on both tokens, and openssl verifies every
// signature as RSASSA-PSS, SHA-256, MGF1-SHA-256, salt 32. Other parameters are
// refused with CKR_MECHANISM_PARAM_INVALID, and a card without PSS refuses the
// mechanism, without anything reaching its signature command.
func TestPKCS11ToolPSS(t *testing.T) {
	c, auth, sign := cardSlots(t, 0)
	dir := t.TempDir()
	data := make([]byte, 500)
	_, _ = rand.Read(data)
	in := clienttest.WriteFile(t, dir, "data", data, 0o600)
	sum := sha256.Sum256(data)
	hashed := clienttest.WriteFile(t, dir, "data.sha256", sum[:], 0o600)
	for _, k := range []struct {
		name, pin, cert string
		slot            int
		id              string
	}{
		{"auth", clienttest.AuthPIN, "auth.der", auth, "01"},
		{"sign", clienttest.SignPIN, "sign.der", sign, "02"},
	} {
		pub := c.PubKey(t, k.cert)
		for _, mech := range []string{toolSHA256PSS, toolPSS} {
			t.Run(k.name+"/"+mech, func(t *testing.T) {
				env := clienttest.Env(t)
				sig := filepath.Join(dir, k.name+mech+".sig")
				args := []string{"--slot", fmt.Sprint(k.slot), "--login", "--pin", k.pin, "--sign", "-m", mech,
					"--mgf", "MGF1-SHA256", "--salt-len", "32", "--id", k.id, "-o", sig}
				if mech == toolPSS { // the caller hashes: the input is the 32-byte SHA-256
					args = append(args, "--hash-algorithm", "SHA256", "-i", hashed)
				} else {
					args = append(args, "-i", in)
				}
				fx.MustPKCS11Tool(t, env, args...)
				out := clienttest.MustRun(t, nil, "openssl", "dgst", "-sha256", "-sigopt", "rsa_padding_mode:pss",
					"-sigopt", "rsa_pss_saltlen:32", "-verify", pub, "-signature", sig, in)
				clienttest.Contains(t, "openssl dgst -verify (PSS)", out, "Verified OK")
				if m := clienttest.SignMechanisms(t, env); !slices.Equal(m, []int{pssMech(mech)}) {
					t.Fatalf("signed with mechanisms %#x", m)
				}
			})
		}
	}
	t.Run("other parameters", func(t *testing.T) {
		for _, bad := range [][]string{{"--mgf", "MGF1-SHA1", "--salt-len", "32"}, {"--mgf", "MGF1-SHA256", "--salt-len", "20"},
			{"--mgf", "MGF1-SHA384", "--salt-len", "32"}, {"--mgf", "MGF1-SHA256", "--salt-len", "0"}} {
			env := clienttest.Env(t)
			args := append([]string{"--slot", fmt.Sprint(auth), "--login", "--pin", clienttest.AuthPIN, "--sign",
				"-m", toolSHA256PSS, "--id", "01", "-i", in, "-o", filepath.Join(dir, "bad.sig")}, bad...)
			out, err := fx.PKCS11Tool(t, env, args...)
			if err == nil || !strings.Contains(out, "CKR_MECHANISM_PARAM_INVALID") {
				t.Fatalf("%v accepted (err %v):\n%s", bad, err, out)
			}
		}
	})
	t.Run("no-PSS card", func(t *testing.T) {
		_, oldAuth, _ := cardSlots(t, 1, "--no-pss")
		out, err := fx.PKCS11Tool(t, clienttest.Env(t), "--slot", fmt.Sprint(oldAuth), "--login", "--pin", clienttest.AuthPIN,
			"--sign", "-m", toolSHA256PSS, "--mgf", "MGF1-SHA256", "--salt-len", "32", "--id", "01", "-i", in,
			"-o", filepath.Join(dir, "old.sig"))
		if err == nil || !strings.Contains(out, "CKR_MECHANISM_INVALID") {
			t.Fatalf("PSS signature on a card without PSS (err %v):\n%s", err, out)
		}
	})
}

// onlyPSS fails the test unless the client signed, and only with a PSS mechanism
// (CKM_RSA_PKCS_PSS, or CKM_SHA256_RSA_PKCS_PSS where the token describes it).
func onlyPSS(t *testing.T, env []string) {
	t.Helper()
	m := clienttest.SignMechanisms(t, env)
	if len(m) == 0 || slices.ContainsFunc(m, func(x int) bool { return x != clienttest.CKM_RSA_PKCS_PSS && x != 0x43 }) {
		t.Fatalf("signed with mechanisms %#x, want RSA-PSS ones", m)
	}
}

// pssMech is the CKM_ value of a pkcs11-tool PSS mechanism name.
func pssMech(name string) int {
	if name == toolSHA256PSS {
		return 0x43
	}
	return clienttest.CKM_RSA_PKCS_PSS
}

// TestOpenSSLTLS13: openssl s_client with the pkcs11 engine completes client
// authentication against a TLS 1.3-only s_server; the server sees the card's
// certificate and an RSA-PSS CertificateVerify made with CKM_RSA_PKCS_PSS. Both
// PIN goes in the URI's pin-value, as scripts do; that needs the authentication
// token shown alone (tokens=auth, docs/ONE-PIN.md): with both tokens shown libp11
// asks the authentication key's PIN at its own prompt instead (the PIN-at-the-
// prompt path is tested over TLS 1.2 in test/clients, TestOpenSSLClientAuth).
func TestOpenSSLTLS13(t *testing.T) {
	c, _, _ := cardSlots(t, 0)
	p := clienttest.NewServerPKI(t, "tls13 test server CA")
	for _, mode := range []struct {
		name, env, stdin, keySuffix string
	}{
		{"pin-value with tokens=auth", "JPKI_PKCS11_TOKENS=auth", "", ";pin-value=" + clienttest.AuthPIN},
	} {
		t.Run(mode.name, func(t *testing.T) {
			port, srv := tlsServer(t, p, c.PEM(t, "authca.der"), "1_3")
			vars := []string{"PKCS11_MODULE_PATH=" + fx.Module}
			if mode.env != "" {
				vars = append(vars, mode.env)
			}
			env := clienttest.Env(t, vars...)
			out, err := clienttest.RunIn(t, "", []byte(mode.stdin+"GET / HTTP/1.0\r\n\r\n"), env, "openssl", "s_client",
				"-connect", fmt.Sprintf("127.0.0.1:%d", port), "-tls1_3", "-engine", "pkcs11", "-keyform", "engine",
				"-key", authURI("private")+mode.keySuffix, "-cert", c.PEM(t, "auth.der"),
				"-CAfile", p.CA, "-verify_return_error", "-ign_eof")
			if err != nil {
				if mode.stdin == "" {
					libp11PINPrompt(t, out)
				}
				t.Fatalf("s_client: %v\n%s", err, out)
			}
			clienttest.Contains(t, "s_client", out, "Protocol  : TLSv1.3", "Verify return code: 0 (ok)", "HTTP/1.0 200 ok")
			_, page, _ := strings.Cut(out, "HTTP/1.0 200 ok")
			clienttest.Contains(t, "s_server page", page, "Client certificate", "Peer signature type: RSA-PSS\n")
			// s_server logs the client's certificate on its own schedule
			srv.WaitOutput(t, "s_server", "depth=0 C = JP, CN = ")
			if m := clienttest.SignMechanisms(t, env); !slices.Equal(m, []int{clienttest.CKM_RSA_PKCS_PSS}) {
				t.Fatalf("signed with mechanisms %#x, want one CKM_RSA_PKCS_PSS", m)
			}
		})
	}
}

// libp11PINPrompt explains a failure of openssl s_client when the pkcs11 engine
// asked the PIN of the key on the terminal (docs/TLS13.md, "OpenSSL"): libp11
// (pkcs11_authenticate) asks the PIN of a CKA_ALWAYS_AUTHENTICATE key through the
// OpenSSL UI before C_Login(CKU_CONTEXT_SPECIFIC), never from the URI's pin-value,
// and it logs in with pin-value only to a token with CKF_LOGIN_REQUIRED.
func libp11PINPrompt(t *testing.T, out string) {
	t.Helper()
	if strings.Contains(out, "Enter PKCS#11 key PIN") {
		t.Fatalf("the pkcs11 engine asked the key's PIN through the OpenSSL UI instead of using pin-value: "+
			"the authentication key is CKA_ALWAYS_AUTHENTICATE on a token without CKF_LOGIN_REQUIRED "+
			"(libp11 pkcs11_authenticate; see docs/TLS13.md)\n%s", out)
	}
}

// gnutlsClient runs gnutls-cli with its default priorities and the card's
// certificate and key against 127.0.0.1:port, sends an HTTP request and keeps
// stdin open until the server's page has come (gnutls-cli hangs up at the end of
// its input) or gnutls-cli exits; it returns the output.
func gnutlsClient(t *testing.T, env []string, caFile string, port int) string {
	t.Helper()
	out, _ := clienttest.RunStaged(t, env, []clienttest.Stage{{Input: "GET / HTTP/1.0\r\n\r\n"}}, "</HTML>",
		"gnutls-cli", "--provider", fx.Module, "--x509cafile", caFile,
		"--x509certfile", authURI("cert"), "--x509keyfile", authURI("private"), "-p", fmt.Sprint(port), "127.0.0.1")
	return out
}

// TestGnuTLSTLS13: gnutls-cli with its default priorities (the PIN from
// GNUTLS_PIN) completes client authentication against a TLS 1.3-only s_server,
// signing with RSA-PSS.
func TestGnuTLSTLS13(t *testing.T) {
	c, _, _ := cardSlots(t, 0)
	p := clienttest.NewServerPKI(t, "tls13 test server CA")
	port, _ := tlsServer(t, p, c.PEM(t, "authca.der"), "1_3")
	env := clienttest.Env(t, "GNUTLS_PIN="+clienttest.AuthPIN)
	out := gnutlsClient(t, env, p.CA, port)
	clienttest.Contains(t, "gnutls-cli", out, "- Handshake was completed", "(TLS1.3", "Client certificate",
		"Peer signature type: RSA-PSS")
	onlyPSS(t, env)
}

// TestFirefoxTLS13: Firefox ESR headless, with the module loaded in a fresh
// profile, completes client authentication against a TLS 1.3-only s_server: it
// asks the PIN once (answered by the test's prompter) and signs with RSA-PSS
// (CKM_RSA_PKCS_PSS on the authentication token: docs/TLS13.md); the page shows
// the card's certificate.
func TestFirefoxTLS13(t *testing.T) {
	c, _, _ := cardSlots(t, 0)
	p := clienttest.NewServerPKI(t, "tls13 test server CA")
	port, _ := tlsServer(t, p, c.PEM(t, "authca.der"), "1_3")
	env := clienttest.Env(t)
	run := visitWithFirefox(t, env, fx.Module, p.CA, fmt.Sprintf("https://127.0.0.1:%d/", port), clienttest.AuthPIN)
	if run.NavErr != nil {
		t.Fatalf("navigation: %v (prompts %q)", run.NavErr, run.Prompts)
	}
	clienttest.Contains(t, "s_server page in Firefox", run.Page, "TLSv1.3", "Client certificate", "Peer signature type: RSA-PSS")
	if len(run.Prompts) != 1 || !strings.HasPrefix(run.Prompts[0], "password: ") {
		t.Fatalf("prompts %q, want one PIN prompt", run.Prompts)
	}
	onlyPSS(t, env)
}

// TestNoPSSCardTLS12: a card generation without PSS (jpki-vcard new --no-pss)
// still completes TLS 1.2 client authentication with PKCS#1 v1.5 (CKM_RSA_PKCS):
// in Firefox (which sees no PSS mechanism and picks rsa_pkcs1_sha256), gnutls-cli
// with its default priorities and openssl s_client limited to RSA+SHA256 (OpenSSL
// itself prefers RSA-PSS and does not look at the token's mechanisms). A TLS
// 1.3-only server cannot be reached with such a card: TLS 1.3 has no PKCS#1 v1.5.
func TestNoPSSCardTLS12(t *testing.T) {
	c, _, _ := cardSlots(t, 1, "--no-pss")
	p := clienttest.NewServerPKI(t, "tls13 test server CA")
	clientCA := c.PEM(t, "authca.der")
	t.Run("firefox", func(t *testing.T) {
		port, _ := tlsServer(t, p, clientCA, "1_2")
		env := clienttest.Env(t)
		run := visitWithFirefox(t, env, fx.Module, p.CA, fmt.Sprintf("https://127.0.0.1:%d/", port), clienttest.AuthPIN)
		if run.NavErr != nil {
			t.Fatalf("navigation: %v (prompts %q)", run.NavErr, run.Prompts)
		}
		clienttest.Contains(t, "s_server page in Firefox", run.Page, "TLSv1.2", "Client certificate", "Peer signature type: RSA\n")
		if m := clienttest.SignMechanisms(t, env); len(m) == 0 || slices.ContainsFunc(m, func(x int) bool { return x != clienttest.CKM_RSA_PKCS }) {
			t.Fatalf("signed with mechanisms %#x, want CKM_RSA_PKCS", m)
		}
	})
	t.Run("gnutls-cli", func(t *testing.T) {
		port, _ := tlsServer(t, p, clientCA, "1_2")
		env := clienttest.Env(t, "GNUTLS_PIN="+clienttest.AuthPIN)
		out := gnutlsClient(t, env, p.CA, port)
		clienttest.Contains(t, "gnutls-cli", out, "- Handshake was completed", "(TLS1.2", "Client certificate",
			"Peer signature type: RSA\n")
		if m := clienttest.SignMechanisms(t, env); len(m) == 0 || slices.ContainsFunc(m, func(x int) bool { return x != clienttest.CKM_RSA_PKCS }) {
			t.Fatalf("signed with mechanisms %#x, want CKM_RSA_PKCS", m)
		}
	})
	t.Run("openssl", func(t *testing.T) {
		port, _ := tlsServer(t, p, clientCA, "1_2")
		// pin-value in the URI needs the authentication token shown alone (see
		// TestOpenSSLTLS13)
		env := clienttest.Env(t, "PKCS11_MODULE_PATH="+fx.Module, "JPKI_PKCS11_TOKENS=auth")
		out, err := clienttest.RunIn(t, "", []byte("GET / HTTP/1.0\r\n\r\n"), env, "openssl", "s_client",
			"-connect", fmt.Sprintf("127.0.0.1:%d", port), "-tls1_2", "-sigalgs", "RSA+SHA256", "-engine", "pkcs11",
			"-keyform", "engine", "-key", authURI("private")+";pin-value="+clienttest.AuthPIN, "-cert", c.PEM(t, "auth.der"),
			"-CAfile", p.CA, "-verify_return_error", "-ign_eof")
		if err != nil {
			t.Fatalf("s_client: %v\n%s", err, out)
		}
		clienttest.Contains(t, "s_client", out, "Protocol  : TLSv1.2", "HTTP/1.0 200 ok", "Client certificate",
			"Peer signature type: RSA\n")
		if m := clienttest.SignMechanisms(t, env); !slices.Equal(m, []int{clienttest.CKM_RSA_PKCS}) {
			t.Fatalf("signed with mechanisms %#x, want one CKM_RSA_PKCS", m)
		}
	})
}
