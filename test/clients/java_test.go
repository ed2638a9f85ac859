package clients

import (
	"archive/zip"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jpki-pkcs11/jpki-pkcs11/test/clients/clienttest"
)

// Java 17's SunPKCS11 provider loads the module from a configuration file; the
// keystore password is the token PIN. The JVM needs no signal chaining
// (libjsig.so) with our Go module: it is tested here without it.

// javaConfig writes a SunPKCS11 configuration for the slot and returns its path.
func javaConfig(t *testing.T, slot int) string {
	t.Helper()
	cfg := fmt.Sprintf("name = JPKI\nlibrary = %s\nslot = %d\n", fx.Module, slot)
	return clienttest.WriteFile(t, t.TempDir(), "jpki.cfg", []byte(cfg), 0o600)
}

// keystoreArgs are the keytool/jarsigner arguments of the PKCS#11 keystore.
func keystoreArgs(cfg string) []string {
	return []string{"-keystore", "NONE", "-storetype", "PKCS11", "-addprovider", "SunPKCS11", "-providerArg", cfg}
}

// TestKeytoolList: `keytool -list` shows each token's key entry, named by the
// certificate's label.
func TestKeytoolList(t *testing.T) {
	tk := sharedTokens(t)
	for _, c := range []struct {
		slot       int
		pin, alias string
	}{
		{tk.auth, clienttest.AuthPIN, "User Authentication Certificate"},
		{tk.sign, clienttest.SignPIN, "Digital Signature Certificate"},
	} {
		t.Run(strings.ReplaceAll(c.alias, " ", "_"), func(t *testing.T) {
			args := append([]string{"-list"}, keystoreArgs(javaConfig(t, c.slot))...)
			out := clienttest.MustRun(t, clienttest.Env(t), "keytool", append(args, "-storepass", c.pin)...)
			clienttest.Contains(t, "keytool -list", out, "Keystore type: PKCS11", c.alias+", PrivateKeyEntry")
			// The fingerprint is the card's certificate's.
			der := "auth.der"
			if c.slot == tk.sign {
				der = "sign.der"
			}
			fp := clienttest.MustRun(t, nil, "openssl", "x509", "-inform", "der", "-in", filepath.Join(tk.card.Dir, der),
				"-noout", "-fingerprint", "-sha256")
			_, fp, _ = strings.Cut(strings.TrimSpace(fp), "=")
			clienttest.Contains(t, "keytool -list", out, fp)
		})
	}
}

// makeJar writes a small jar (a zip with a manifest) and returns its path.
func makeJar(t *testing.T, dir string) string {
	t.Helper()
	var b bytes.Buffer
	z := zip.NewWriter(&b)
	for _, f := range []struct{ name, body string }{
		{"META-INF/MANIFEST.MF", "Manifest-Version: 1.0\r\nCreated-By: jpki-pkcs11 test\r\n\r\n"},
		{"hello/readme.txt", "signed with a My Number Card\n"},
	} {
		w, err := z.Create(f.name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(f.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return clienttest.WriteFile(t, dir, "in.jar", b.Bytes(), 0o644)
}

// TestJarsigner: jarsigner signs a jar with the signature key (alias = the
// signature certificate's label, PIN from the environment), `jarsigner -verify`
// accepts it, and the signature block holds the card's certificate and verifies
// with openssl.
func TestJarsigner(t *testing.T) {
	tk := sharedTokens(t)
	dir := t.TempDir()
	in, out := makeJar(t, dir), filepath.Join(dir, "signed.jar")
	env := clienttest.Env(t, "PIN="+clienttest.SignPIN)
	args := append(keystoreArgs(javaConfig(t, tk.sign)), "-storepass:env", "PIN", "-signedjar", out, in,
		"Digital Signature Certificate")
	so := clienttest.MustRun(t, env, "jarsigner", args...)
	clienttest.Contains(t, "jarsigner", so, "jar signed.")
	vo := clienttest.MustRun(t, nil, "jarsigner", "-verify", "-verbose", "-certs", out)
	clienttest.Contains(t, "jarsigner -verify", vo, "jar verified.", "s = signature was verified")
	if m := clienttest.SignMechanisms(t, env); len(m) != 1 || m[0] != clienttest.CKM_SHA256_RSA_PKCS {
		t.Fatalf("jarsigner signed with mechanisms %#x, want one SHA256_RSA_PKCS", m)
	}

	// The PKCS#7 signature block: its certificate is the card's signature
	// certificate, and its signature over the .SF file verifies.
	zr, err := zip.OpenReader(out)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	files := map[string][]byte{}
	for _, f := range zr.File {
		if strings.HasPrefix(f.Name, "META-INF/") {
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			_, _ = b.ReadFrom(rc)
			rc.Close()
			files[strings.TrimPrefix(f.Name, "META-INF/")] = b.Bytes()
		}
	}
	var block, sf string
	for name, body := range files {
		switch filepath.Ext(name) {
		case ".RSA":
			block = clienttest.WriteFile(t, dir, "block.p7", body, 0o600)
		case ".SF":
			sf = clienttest.WriteFile(t, dir, "sig.sf", body, 0o600)
		}
	}
	if block == "" || sf == "" {
		t.Fatalf("no .RSA/.SF in the signed jar: %v", keys(files))
	}
	certs := clienttest.MustRun(t, nil, "openssl", "pkcs7", "-inform", "der", "-in", block, "-print_certs")
	want, err := os.ReadFile(tk.card.PEM(t, "sign.der"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(certs, strings.TrimSpace(string(want))) {
		t.Fatalf("the signature block does not carry the card's signature certificate:\n%s", certs)
	}
	clienttest.MustRun(t, nil, "openssl", "cms", "-verify", "-noverify", "-binary", "-inform", "der", "-in", block,
		"-content", sf, "-out", filepath.Join(dir, "verified.sf"))
}

func keys(m map[string][]byte) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}
