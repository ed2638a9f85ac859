package clients

import (
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jpki-pkcs11/jpki-pkcs11/test/clients/clienttest"
)

// The OpenSSL 3 pkcs11 engine (Debian libengine-pkcs11-openssl, libp11) finds the
// module through PKCS11_MODULE_PATH.

// TestOpenSSLEngineSign signs a file with a pkcs11: URI of the signature key and
// verifies the signature with `openssl dgst -verify` and the card's certificate.
func TestOpenSSLEngineSign(t *testing.T) {
	tk := sharedTokens(t)
	dir := t.TempDir()
	data := make([]byte, 3000)
	_, _ = rand.Read(data)
	in := clienttest.WriteFile(t, dir, "data", data, 0o600)
	pub := tk.card.PubKey(t, "sign.der")
	uris := map[string]string{
		"by-id":    "pkcs11:token=" + clienttest.URIEscape(clienttest.SignToken) + ";id=%02;type=private",
		"by-label": "pkcs11:token=" + clienttest.URIEscape(clienttest.SignToken) + ";object=" + clienttest.URIEscape("Digital Signature Key") + ";type=private",
	}
	for _, c := range []struct{ name, hash string }{{"by-id", "sha256"}, {"by-label", "sha512"}, {"by-id", "sha1"}} {
		t.Run(c.name+"-"+c.hash, func(t *testing.T) {
			env := clienttest.Env(t, "PKCS11_MODULE_PATH="+fx.Module)
			sig := filepath.Join(dir, c.name+c.hash+".sig")
			clienttest.MustRun(t, env, "openssl", "dgst", "-"+c.hash, "-engine", "pkcs11", "-keyform", "engine",
				"-sign", uris[c.name], "-passin", "pass:"+clienttest.SignPIN, "-out", sig, in)
			out := clienttest.MustRun(t, nil, "openssl", "dgst", "-"+c.hash, "-verify", pub, "-signature", sig, in)
			clienttest.Contains(t, "openssl dgst -verify", out, "Verified OK")
		})
	}
	// A wrong password is refused, and no signature is written.
	env := clienttest.Env(t, "PKCS11_MODULE_PATH="+fx.Module)
	sig := filepath.Join(dir, "wrong.sig")
	out, err := clienttest.Run(t, env, "openssl", "dgst", "-sha256", "-engine", "pkcs11", "-keyform", "engine",
		"-sign", uris["by-id"], "-passin", "pass:ZZZ", "-out", sig, in)
	if b, _ := os.ReadFile(sig); err == nil || len(b) > 0 {
		t.Fatalf("openssl signed with a malformed password (err %v):\n%s", err, out)
	}
}

// serverCert makes a self-signed server certificate for localhost/127.0.0.1.
func serverCert(t *testing.T, dir string) (cert, key string) {
	t.Helper()
	cert, key = filepath.Join(dir, "srv.pem"), filepath.Join(dir, "srv.key")
	clienttest.MustRun(t, nil, "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
		"-subj", "/CN=localhost", "-days", "2", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1")
	return cert, key
}

// commonName is the CN of an RFC 2253 subject.
func commonName(subject string) string {
	for _, rdn := range strings.Split(subject, ",") {
		if v, ok := strings.CutPrefix(rdn, "CN="); ok {
			return v
		}
	}
	return ""
}

// TestOpenSSLClientAuth: `openssl s_client` with the engine and the authentication key
// completes TLS 1.2 client authentication against `openssl s_server -Verify 1`, and
// the server sees the card's certificate. With OpenSSL's default signature
// algorithms the client signs with RSA-PSS (the module's CKM_RSA_PKCS_PSS); with
// -sigalgs RSA+SHA256 it signs with PKCS#1 v1.5 (CKM_RSA_PKCS).
func TestOpenSSLClientAuth(t *testing.T) {
	tk := sharedTokens(t)
	dir := t.TempDir()
	srvCert, srvKey := serverCert(t, dir)
	authPEM := tk.card.PEM(t, "auth.der")
	caPEM := tk.card.PEM(t, "authca.der")
	cn := commonName(tk.card.Subject(t, "auth.der"))
	if cn == "" {
		t.Fatal("no CN in the authentication certificate")
	}
	key := "pkcs11:token=" + clienttest.URIEscape(clienttest.AuthToken) + ";id=%01;type=private;pin-value=" + clienttest.AuthPIN
	always := authAlwaysAuthenticate(t, tk)
	for _, c := range []struct {
		name   string
		args   []string
		sigalg string
		mech   int
	}{
		{"default-pss", nil, "RSA-PSS", clienttest.CKM_RSA_PKCS_PSS},
		{"pkcs1", []string{"-sigalgs", "RSA+SHA256"}, "RSA", clienttest.CKM_RSA_PKCS},
	} {
		t.Run(c.name, func(t *testing.T) {
			port := clienttest.FreePort(t)
			srv := clienttest.StartServer(t, port, nil, "openssl", "s_server", "-accept", fmt.Sprintf("127.0.0.1:%d", port),
				"-cert", srvCert, "-key", srvKey, "-CAfile", caPEM, "-Verify", "1", "-tls1_2", "-www")
			env := clienttest.Env(t, "PKCS11_MODULE_PATH="+fx.Module)
			args := append([]string{"s_client", "-connect", fmt.Sprintf("127.0.0.1:%d", port), "-tls1_2",
				"-engine", "pkcs11", "-keyform", "engine", "-key", key, "-cert", authPEM,
				"-CAfile", srvCert, "-verify_return_error", "-ign_eof"}, c.args...)
			// When the key is CKA_ALWAYS_AUTHENTICATE (docs/ONE-PIN.md), libp11 asks the
			// PIN for the signature's context-specific login through OpenSSL's UI (the
			// terminal; stdin here), whatever pin-value says: answer it first. The
			// request goes once the handshake is done.
			var stages []clienttest.Stage
			if always {
				stages = append(stages, clienttest.Stage{Input: clienttest.AuthPIN + "\n"})
			}
			stages = append(stages, clienttest.Stage{Input: "GET / HTTP/1.0\r\n\r\n", After: "SSL-Session:"})
			out, err := clienttest.RunStaged(t, env, stages, "", "openssl", args...)
			if err != nil {
				t.Fatalf("s_client: %v\n%s", err, out)
			}
			clienttest.Contains(t, "s_client", out, "Protocol  : TLSv1.2", "Verify return code: 0 (ok)", "HTTP/1.0 200 ok")
			// The s_server -www page reports the server's view of the session: the
			// client certificate it verified and how the client signed (CertificateVerify).
			_, page, _ := strings.Cut(out, "HTTP/1.0 200 ok")
			clienttest.Contains(t, "s_server page", page, "Client certificate", "Subject: C=JP, CN="+cn,
				"Peer signature type: "+c.sigalg+"\n")
			srv.WaitOutput(t, "s_server log", "depth=0 C = JP, CN = "+cn)
			if m := clienttest.SignMechanisms(t, env); len(m) != 1 || m[0] != c.mech {
				t.Fatalf("signed with mechanisms %#x, want one %#x", m, c.mech)
			}
			if always && clienttest.LogCount(t, env, `msg=C_Login .*userType=2 rv=CKR_OK$`) != 1 {
				t.Fatal("no successful context-specific login in the module log")
			}
		})
	}
}
