package authmodule

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jpki-pkcs11/jpki-pkcs11/test/clients/clienttest"
)

// serverCert makes a self-signed server certificate for 127.0.0.1.
func serverCert(t *testing.T, dir string) (cert, key string) {
	t.Helper()
	cert, key = filepath.Join(dir, "srv.pem"), filepath.Join(dir, "srv.key")
	clienttest.MustRun(t, nil, "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
		"-subj", "/CN=127.0.0.1", "-days", "2", "-addext", "subjectAltName=IP:127.0.0.1")
	return cert, key
}

// tlsServer starts openssl s_server -Verify 1 -www (TLS 1.2 and 1.3) trusting the
// card's authentication CA, and returns its port and certificate.
func tlsServer(t *testing.T, c *clienttest.Card, args ...string) (int, string, *clienttest.Server) {
	t.Helper()
	dir := t.TempDir()
	cert, key := serverCert(t, dir)
	port := clienttest.FreePort(t)
	srv := clienttest.StartServer(t, port, nil, "openssl", append([]string{"s_server", "-accept", fmt.Sprintf("127.0.0.1:%d", port),
		"-cert", cert, "-key", key, "-CAfile", c.PEM(t, "authca.der"), "-Verify", "1", "-www"}, args...)...)
	return port, cert, srv
}

// TestOpenSSLPinValue: the README's OpenSSL script recipe: `openssl s_client` with
// the pkcs11 engine, PKCS11_MODULE_PATH=jpki-pkcs11-auth.so and the PIN as
// pin-value in the key URI completes TLS client authentication (1.2 with PKCS#1
// v1.5 and 1.3 with PSS) with stdin giving nothing but the request: no prompt.
func TestOpenSSLPinValue(t *testing.T) {
	c, _ := authSlot(t)
	key := "pkcs11:token=" + clienttest.URIEscape(clienttest.AuthToken) + ";id=%01;type=private;pin-value=" + clienttest.AuthPIN
	for _, tc := range []struct {
		name   string
		args   []string
		proto  string
		sigalg string
	}{
		{"tls1.2", []string{"-tls1_2", "-sigalgs", "RSA+SHA256"}, "TLSv1.2", "RSA"},
		{"tls1.3", []string{"-tls1_3"}, "TLSv1.3", "RSA-PSS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			port, srvCert, _ := tlsServer(t, c)
			e := env(t, "PKCS11_MODULE_PATH="+authModule(t))
			args := append([]string{"s_client", "-connect", fmt.Sprintf("127.0.0.1:%d", port),
				"-engine", "pkcs11", "-keyform", "engine", "-key", key, "-cert", c.PEM(t, "auth.der"),
				"-CAfile", srvCert, "-verify_return_error", "-ign_eof"}, tc.args...)
			out := heldStdin(t, e, "GET / HTTP/1.0\r\n\r\n", "openssl", args...)
			clienttest.Contains(t, "s_client", out, "Protocol  : "+tc.proto, "HTTP/1.0 200 ok")
			_, page, _ := strings.Cut(out, "HTTP/1.0 200 ok")
			clienttest.Contains(t, "s_server page", page, "Client certificate", "Peer signature type: "+tc.sigalg+"\n")
			if strings.Contains(out, "Enter PKCS#11") {
				t.Fatalf("openssl asked for the PIN although pin-value gave it:\n%s", out)
			}
			if n := clienttest.LogCount(t, e, `msg=C_Login .*userType=1 rv=CKR_OK$`); n != 1 {
				t.Fatalf("%d user logins in the module log, want 1 (pin-value)", n)
			}
		})
	}
}

// heldStdin runs a client whose stdin gives input once it is connected and stays
// open until it exits (s_client -ign_eof must not hang up before the answer).
func heldStdin(t *testing.T, env []string, input, name string, args ...string) string {
	t.Helper()
	out, err := clienttest.RunStaged(t, env, []clienttest.Stage{{Input: input, After: "SSL-Session:"}}, "", name, args...)
	if err != nil {
		t.Fatalf("%s: %v\n%s", name, err, out)
	}
	return out
}

// javaClient is a TLS client with a SunPKCS11 keystore: args are the provider
// configuration file, the PIN, the port and the server certificate (PEM).
const javaClient = `import java.io.*;
import java.security.*;
import java.security.cert.*;
import javax.net.ssl.*;

public class JpkiClient {
    public static void main(String[] a) throws Exception {
        Provider p = Security.getProvider("SunPKCS11").configure(a[0]);
        Security.addProvider(p);
        KeyStore ks = KeyStore.getInstance("PKCS11", p);
        ks.load(null, a[1].toCharArray());
        KeyManagerFactory kmf = KeyManagerFactory.getInstance("SunX509");
        kmf.init(ks, a[1].toCharArray());
        KeyStore ts = KeyStore.getInstance("PKCS12");
        ts.load(null, null);
        try (InputStream in = new FileInputStream(a[3])) {
            ts.setCertificateEntry("server", CertificateFactory.getInstance("X.509").generateCertificate(in));
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
        tmf.init(ts);
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);
        try (SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket("127.0.0.1", Integer.parseInt(a[2]))) {
            s.setEnabledProtocols(new String[] {a[4]});
            s.getOutputStream().write("GET / HTTP/1.0\r\n\r\n".getBytes("US-ASCII"));
            s.getOutputStream().flush();
            BufferedReader r = new BufferedReader(new InputStreamReader(s.getInputStream(), "US-ASCII"));
            for (String l; (l = r.readLine()) != null; ) System.out.println(l);
            System.out.println("PROTOCOL " + s.getSession().getProtocol());
        }
    }
}
`

// TestJavaSSLSocket: the README's Java recipe: a SunPKCS11 configuration naming
// jpki-pkcs11-auth.so (no slot: its one token), the keystore password is the
// PIN, and an SSLSocket client authenticates to openssl s_server with the card's
// key over TLS 1.2 and TLS 1.3.
func TestJavaSSLSocket(t *testing.T) {
	c, _ := authSlot(t)
	dir := t.TempDir()
	src := clienttest.WriteFile(t, dir, "JpkiClient.java", []byte(javaClient), 0o600)
	cfg := clienttest.WriteFile(t, dir, "jpki-auth.cfg", []byte("name = JPKI\nlibrary = "+authModule(t)+"\n"), 0o600)
	for _, proto := range []string{"TLSv1.2", "TLSv1.3"} {
		t.Run(proto, func(t *testing.T) {
			port, srvCert, srv := tlsServer(t, c)
			e := env(t)
			out := clienttest.MustRun(t, e, "java", src, cfg, clienttest.AuthPIN, fmt.Sprint(port), srvCert, proto)
			clienttest.Contains(t, "java client", out, "HTTP/1.0 200 ok", "Client certificate", "PROTOCOL "+proto)
			clienttest.Contains(t, "s_server log", srv.Output(), "depth=0 C = JP")
			if len(clienttest.SignMechanisms(t, e)) == 0 {
				t.Fatal("the Java client did not sign through the module")
			}
		})
	}
}
