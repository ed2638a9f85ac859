package libreoffice

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jpki-pkcs11/jpki-pkcs11/test/clients/clienttest"
)

// python is Debian's interpreter, the one python3-uno serves (a python3 earlier
// on PATH, e.g. pyenv's, has no uno module).
const python = "/usr/bin/python3"

// report is what lo_sign.py writes.
type report struct {
	Handler  string `json:"handler"`
	Requests []struct {
		Type     string `json:"type"`
		Name     string `json:"name"`
		Mode     string `json:"mode"`
		Answered bool   `json:"answered"`
	} `json:"requests"`
	Personal   []certInfo `json:"personal"`
	Signed     bool       `json:"signed"`
	Signatures []struct {
		Valid             bool      `json:"valid"`
		CertificateStatus int       `json:"certificateStatus"`
		PartialSignature  bool      `json:"partialSignature"`
		Signer            *certInfo `json:"signer"`
	} `json:"signatures"`
	Error string `json:"error"`
}

type certInfo struct {
	Subject string `json:"subject"`
	Issuer  string `json:"issuer"`
	DER     string `json:"der"`
}

// needTools fails (not skips: scripts/deps.sh installs them) when a program is missing.
func needTools(t *testing.T) {
	t.Helper()
	for _, p := range []string{"soffice", python, "xmlsec1", "certutil", "modutil"} {
		if _, err := exec.LookPath(p); err != nil {
			t.Fatalf("%s not found (scripts/deps.sh installs it: make deps): %v", p, err)
		}
	}
	if out, err := exec.Command(python, "-c", "import uno").CombinedOutput(); err != nil {
		t.Fatalf("%s cannot import uno (package python3-uno, make deps): %v\n%s", python, err, out)
	}
}

// startSoffice starts a headless LibreOffice with a private user profile, listening
// for UNO on a named pipe, with env; it is killed (with its process group:
// oosplash and soffice.bin) when the test ends. It returns the pipe name.
func startSoffice(t *testing.T, env []string) string {
	t.Helper()
	dir := t.TempDir()
	pipe := fmt.Sprintf("jpki-lo-%d-%d", os.Getpid(), time.Now().UnixNano())
	ctx, cancel := context.WithTimeout(context.Background(), clienttest.DefaultTimeout)
	cmd := clienttest.Cmd(ctx, env, "soffice", "--headless", "--invisible", "--nologo",
		"--norestore", "--nodefault", "--nolockcheck", "--nofirststartwizard",
		"-env:UserInstallation=file://"+dir+"/profile",
		"--accept=pipe,name="+pipe+";urp;StarOffice.ComponentContext")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		select {
		case <-done: // terminated by the driver (desktop.terminate)
		case <-time.After(10 * time.Second):
			t.Errorf("soffice still running 10s after the driver ended: killed")
		}
		cancel() // kills the whole process group if anything is left
		<-done
		if t.Failed() {
			t.Logf("soffice output:\n%s", out.String())
		}
	})
	return pipe
}

// TestLibreOfficeSign: LibreOffice (headless soffice) lists the card's signature
// certificate among its personal certificates after one login with the signature
// password, signs an ODT with it through NSS, and reports the signature valid and
// the certificate trusted (the card's signature CA is in the database); xmlsec1
// verifies the stored XML-DSig signature with the card certificate's public key, and
// the card saw exactly one VERIFY.
func TestLibreOfficeSign(t *testing.T) {
	needTools(t)
	c := fx.SharedCard(t)
	env := clienttest.Env(t)
	db := fx.NSSDB(t, env)
	// trust the card's signature CA, as a user who checks signatures would
	clienttest.MustRun(t, env, "certutil", "-A", "-d", db, "-n", "JPKI signature CA",
		"-t", "C,C,C", "-i", c.PEM(t, "signca.der"))

	home := t.TempDir()
	loEnv := append(env, "MOZILLA_CERTIFICATE_FOLDER="+db, "HOME="+home, "SAL_USE_VCLPLUGIN=svp")
	work := t.TempDir()
	doc := filepath.Join(work, "signed.odt")
	res := filepath.Join(work, "report.json")

	mark := fx.PC.Mark()
	pipe := startSoffice(t, loEnv)
	out, err := clienttest.RunIn(t, work, []byte(clienttest.SignPIN+"\n"), loEnv, python,
		filepath.Join(fx.Root, "test", "libreoffice", "lo_sign.py"),
		"--pipe", pipe, "--doc", doc, "--cert", filepath.Join(c.Dir, "sign.der"),
		"--token", clienttest.SignToken, "--out", res)
	var r report
	b, rerr := os.ReadFile(res)
	if rerr == nil {
		rerr = json.Unmarshal(b, &r)
	}
	if err != nil || rerr != nil || r.Error != "" {
		t.Fatalf("lo_sign.py: %v %v\n%s\nreport: %s", err, rerr, out, b)
	}
	if testing.Verbose() {
		t.Logf("report: %s", b)
	}

	sign, err := os.ReadFile(filepath.Join(c.Dir, "sign.der"))
	if err != nil {
		t.Fatal(err)
	}
	signHex := hex.EncodeToString(sign)

	// the password went to LibreOffice through our handler, once, for the signature token
	if r.Handler != "org.jpkipkcs11.test.PasswordInteractionHandler" {
		t.Fatalf("interaction handler in soffice: %q, want the driver's", r.Handler)
	}
	if len(r.Requests) != 1 || r.Requests[0].Name != clienttest.SignToken ||
		r.Requests[0].Mode != "PASSWORD_ENTER" || !r.Requests[0].Answered {
		t.Fatalf("password requests: %+v, want one PASSWORD_ENTER for %q", r.Requests, clienttest.SignToken)
	}
	// the card saw exactly one VERIFY with a PIN: the signature password
	if n := fx.APDUsSince(t, mark, `^00 20 00 80 [0-9A-F]{2} `); n != 1 {
		t.Fatalf("%d VERIFY commands with a PIN, want 1 (the signature password)", n)
	}
	if mechs := clienttest.SignMechanisms(t, env); len(mechs) != 1 {
		t.Fatalf("signatures through the module: %v, want one", mechs)
	}
	found := false
	for _, p := range r.Personal {
		found = found || p.DER == signHex
	}
	if !found {
		t.Fatalf("the signature certificate is not among LibreOffice's personal certificates: %+v", r.Personal)
	}

	// LibreOffice's verdict: one valid signature by the card holder, certificate
	// trusted (CertificateValidity VALID = 0) through the CA in the database
	if !r.Signed || len(r.Signatures) != 1 {
		t.Fatalf("signed %v, %d signatures in the document, want one", r.Signed, len(r.Signatures))
	}
	s := r.Signatures[0]
	// (LibreOffice 7.4 cannot sign with a certificate whose issuer has an RDN of
	// two values, "OU=a+OU=b": it writes an empty KeyInfo and finds its own
	// signature invalid. Real JPKI CAs have one value per RDN, as the virtual card's.)
	if !s.Valid || s.Signer == nil || s.Signer.DER != signHex || s.CertificateStatus != 0 || s.PartialSignature {
		t.Fatalf("LibreOffice reports the signature %+v (signer %+v), want valid, by the card's signature certificate, trusted, whole document", s, s.Signer)
	}

	// independently: xmlsec1 verifies the XML-DSig signature (every reference and
	// the signature value) with the public key of the card's certificate only
	dir := unzip(t, doc)
	sigs := filepath.Join(dir, "META-INF", "documentsignatures.xml")
	x, err := os.ReadFile(sigs)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(x), "<SignatureValue>"); n != 1 {
		t.Fatalf("%d signatures in documentsignatures.xml, want 1", n)
	}
	if !strings.Contains(strings.Join(strings.Fields(string(x)), ""), base64.StdEncoding.EncodeToString(sign)) {
		t.Fatal("documentsignatures.xml does not carry the card's signature certificate")
	}
	args := []string{"--verify", "--enabled-key-data", "rsa", "--pubkey-pem", c.PubKey(t, "sign.der"),
		"--id-attr:Id", "http://uri.etsi.org/01903/v1.3.2#:SignedProperties",
		"--id-attr:Id", "SignatureProperty"}
	refs := 0
	for _, m := range fileRef.FindAllStringSubmatch(string(x), -1) {
		args = append(args, "--url-map:"+m[1], filepath.Join(dir, filepath.FromSlash(m[1])))
		refs++
	}
	if refs < 3 {
		t.Fatalf("only %d document streams signed:\n%s", refs, x)
	}
	v := clienttest.MustRun(t, nil, "xmlsec1", append(args, sigs)...)
	clienttest.Contains(t, "xmlsec1 --verify", v, "OK\n")
	// and a wrong key fails: the check is real
	other := filepath.Join(t.TempDir(), "other.pub")
	clienttest.MustRun(t, nil, "openssl", "x509", "-inform", "der", "-in", filepath.Join(c.Dir, "auth.der"), "-pubkey", "-noout", "-out", other)
	args[4] = other
	if out, err := clienttest.Run(t, nil, "xmlsec1", append(args, sigs)...); err == nil {
		t.Fatalf("xmlsec1 verifies the signature with the authentication key:\n%s", out)
	}
}

// fileRef matches the Reference URIs of documentsignatures.xml that name streams
// of the package (not "#id" references inside the signature).
var fileRef = regexp.MustCompile(`<Reference URI="([^#"][^"]*)"`)

// unzip extracts the zip file into a temporary directory and returns it.
func unzip(t *testing.T, file string) string {
	t.Helper()
	z, err := zip.OpenReader(file)
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	dir := t.TempDir()
	for _, f := range z.File {
		if strings.HasSuffix(f.Name, "/") || strings.Contains(f.Name, "..") {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.FromSlash(f.Name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
