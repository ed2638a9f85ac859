// Package gop11 tests the module from Go programs, across a process boundary:
// `p11-kit server` loads build/jpki-pkcs11.so and the program cmd/gop11 (built
// here) loads only p11-kit-client.so, then uses github.com/miekg/pkcs11 and
// github.com/ThalesGroup/crypto11 as Go programs do. Neither this test process nor
// the program ever loads our Go module.
package gop11

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jpki-pkcs11/jpki-pkcs11/test/clients/clienttest"
	"github.com/jpki-pkcs11/jpki-pkcs11/test/gop11/report"
)

// fx is this test process's private pcscd and module; gop11 the built program.
var (
	fx    clienttest.Fixture
	gop11 string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gop11-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		os.Exit(1)
	}
	gop11 = filepath.Join(dir, "gop11")
	if out, err := exec.Command("go", "build", "-o", gop11, "./cmd/gop11").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: go build ./cmd/gop11: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := clienttest.Main(m, &fx)
	os.RemoveAll(dir)
	os.Exit(code)
}

// The CK values the test checks (PKCS#11 2.40).
const (
	ckoCertificate = 1
	ckoPublicKey   = 2
	ckoPrivateKey  = 3
	ckoProfile     = 9
	ckfLoginReq    = 0x4
	ckfWriteProt   = 0x2
	ckfTokenInit   = 0x400
	ckfRemovable   = 0x2
	ckfHWSlot      = 0x4
)

// server starts `p11-kit server` exporting both tokens of the card and returns the
// environment for gop11 (P11_KIT_SERVER_ADDRESS) and the server's (module log).
func server(t *testing.T) (client, srv []string) {
	t.Helper()
	srv = clienttest.Env(t)
	addr := fx.P11KitServer(t, srv, "pkcs11:token="+strings.ReplaceAll(clienttest.AuthToken, " ", "%20"),
		"pkcs11:token="+strings.ReplaceAll(clienttest.SignToken, " ", "%20"))
	return append(os.Environ(), "P11_KIT_SERVER_ADDRESS="+addr), srv
}

// run runs gop11 with args and env and decodes its JSON output into v.
func run(t *testing.T, env []string, v any, args ...string) {
	t.Helper()
	out, err := clienttest.Run(t, env, gop11, append([]string{"-module", clienttest.P11KitClient}, args...)...)
	if err != nil {
		t.Fatalf("gop11 %v: %v\n%s", args, err, out)
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("gop11 %v: %v\n%s", args, err, out)
	}
}

// find returns the objects of class with CKA_ID id (nil: any).
func find(objs []report.Object, class uint64, id []byte) []report.Object {
	var out []report.Object
	for _, o := range objs {
		if c, _ := o.Ulong("CLASS"); c == class && (id == nil || bytes.Equal(o.Attrs["ID"], id)) {
			out = append(out, o)
		}
	}
	return out
}

func readCert(t *testing.T, c *clienttest.Card, name string) *x509.Certificate {
	t.Helper()
	der, err := os.ReadFile(filepath.Join(c.Dir, name))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// TestMiekgListsTokensAndObjects: miekg/pkcs11 through p11-kit-client.so sees both
// tokens with their token info, mechanisms and public objects; the attributes
// match the card's certificates; an attribute a class does not have is
// CKR_ATTRIBUTE_TYPE_INVALID; the private key's secret parts are
// CKR_ATTRIBUTE_SENSITIVE; the authentication certificate is readable without login.
func TestMiekgListsTokensAndObjects(t *testing.T) {
	c := fx.StartCard(t, 0)
	env, _ := server(t)
	var tokens []report.Token
	run(t, env, &tokens, "list")
	if len(tokens) != 2 || tokens[0].Label != clienttest.AuthToken || tokens[1].Label != clienttest.SignToken {
		t.Fatalf("tokens %+v, want %q and %q", tokens, clienttest.AuthToken, clienttest.SignToken)
	}
	auth, sign := tokens[0], tokens[1]
	if auth.Serial == "" || auth.Serial != sign.Serial || auth.Model != "My Number Card" {
		t.Fatalf("serials %q/%q model %q", auth.Serial, sign.Serial, auth.Model)
	}
	if auth.MinPin != 4 || auth.MaxPin != 4 || sign.MinPin != 6 || sign.MaxPin != 16 {
		t.Fatalf("PIN lengths %d-%d and %d-%d", auth.MinPin, auth.MaxPin, sign.MinPin, sign.MaxPin)
	}
	for _, tk := range tokens {
		if tk.Flags&(ckfWriteProt|ckfTokenInit) != ckfWriteProt|ckfTokenInit || tk.SlotFlags&(ckfRemovable|ckfHWSlot) != ckfRemovable|ckfHWSlot {
			t.Fatalf("token %q flags %#x slot flags %#x", tk.Label, tk.Flags, tk.SlotFlags)
		}
		mechs := map[uint]bool{}
		for _, m := range tk.Mechs {
			mechs[m] = true
		}
		// RSA_PKCS, SHA1/256/384/512_RSA_PKCS, SHA_1 and SHA256 digests. p11-kit 0.24's
		// RPC drops the mechanisms it cannot forward (the SHA-224 ones among them).
		for _, m := range []uint{0x1, 0x6, 0x40, 0x41, 0x42, 0x220, 0x250} {
			if !mechs[m] {
				t.Fatalf("token %q lacks mechanism %#x: %#x", tk.Label, m, tk.Mechs)
			}
		}
	}
	if sign.Flags&ckfLoginReq == 0 {
		t.Fatalf("signature token flags %#x: no CKF_LOGIN_REQUIRED", sign.Flags)
	}

	// The authentication token: certificate, public key, CA certificate, profile.
	ac := readCert(t, c, "auth.der")
	certs := find(auth.Objects, ckoCertificate, []byte{1})
	if len(certs) != 1 {
		t.Fatalf("authentication certificates with id 01: %d", len(certs))
	}
	cert := certs[0]
	if !bytes.Equal(cert.Attrs["VALUE"], ac.Raw) || !bytes.Equal(cert.Attrs["SUBJECT"], ac.RawSubject) ||
		!bytes.Equal(cert.Attrs["ISSUER"], ac.RawIssuer) || len(cert.Attrs["SERIAL_NUMBER"]) == 0 {
		t.Fatal("certificate VALUE/SUBJECT/ISSUER/SERIAL_NUMBER do not match auth.der")
	}
	if e := cert.Errors["MODULUS"]; !strings.Contains(e, "CKR_ATTRIBUTE_TYPE_INVALID") {
		t.Fatalf("certificate CKA_MODULUS: %q, want CKR_ATTRIBUTE_TYPE_INVALID", e)
	}
	if len(cert.Attrs["START_DATE"]) != 8 || len(cert.Attrs["END_DATE"]) != 8 {
		t.Fatalf("certificate dates %q %q", cert.Attrs["START_DATE"], cert.Attrs["END_DATE"])
	}
	pubs := find(auth.Objects, ckoPublicKey, []byte{1})
	if len(pubs) != 1 {
		t.Fatalf("authentication public keys: %d", len(pubs))
	}
	rsaPub := ac.PublicKey.(*rsa.PublicKey)
	if !bytes.Equal(pubs[0].Attrs["MODULUS"], rsaPub.N.Bytes()) {
		t.Fatal("public key CKA_MODULUS is not the certificate's")
	}
	if bits, _ := pubs[0].Ulong("MODULUS_BITS"); bits != 2048 {
		t.Fatalf("CKA_MODULUS_BITS %d", bits)
	}
	if len(find(auth.Objects, ckoProfile, nil)) != 1 {
		t.Fatal("no CKO_PROFILE on the authentication token")
	}
	cas := find(auth.Objects, ckoCertificate, nil)
	if len(cas) != 2 {
		t.Fatalf("authentication token certificates: %d, want 2", len(cas))
	}
	for _, o := range cas {
		if bytes.Equal(o.Attrs["ID"], []byte{1}) {
			continue
		}
		if cat, _ := o.Ulong("CERTIFICATE_CATEGORY"); cat != 2 {
			t.Fatalf("CA certificate category %d, want 2 (authority)", cat)
		}
	}
	// Its private key, where visible without login (one-PIN layout), keeps its secrets.
	for _, k := range find(auth.Objects, ckoPrivateKey, nil) {
		checkPrivateKey(t, k)
	}

	// The signature token: only the CA certificate (and maybe a profile) without login.
	if n := len(find(sign.Objects, ckoCertificate, nil)); n != 1 {
		t.Fatalf("signature token shows %d certificates before login, want only the CA's", n)
	}
	if n := len(find(sign.Objects, ckoPrivateKey, nil)) + len(find(sign.Objects, ckoPublicKey, nil)); n != 0 {
		t.Fatalf("signature token shows %d keys before login", n)
	}
}

// checkPrivateKey: CKA_SIGN, sensitive, not extractable; the private parts are
// CKR_ATTRIBUTE_SENSITIVE.
func checkPrivateKey(t *testing.T, k report.Object) {
	t.Helper()
	if v, ok := k.Bool("SIGN"); !ok || !v {
		t.Fatal("private key: CKA_SIGN not true")
	}
	if v, ok := k.Bool("SENSITIVE"); !ok || !v {
		t.Fatal("private key: CKA_SENSITIVE not true")
	}
	if v, ok := k.Bool("EXTRACTABLE"); !ok || v {
		t.Fatal("private key: CKA_EXTRACTABLE not false")
	}
	for _, a := range []string{"PRIVATE_EXPONENT", "PRIME_1"} {
		if e := k.Errors[a]; !strings.Contains(e, "CKR_ATTRIBUTE_SENSITIVE") {
			t.Fatalf("private key CKA_%s: %q, want CKR_ATTRIBUTE_SENSITIVE", a, e)
		}
	}
}

// Signed mirrors cmd/gop11's `sign` output.
type Signed struct {
	Digest      []byte `json:"digest"`
	Signature   []byte `json:"signature"`
	Certificate []byte `json:"certificate"`
	PSS         bool   `json:"pss"`
}

// TestCrypto11Signer: crypto11 gives a crypto.Signer for each token's key pair; its
// signatures verify here with crypto/rsa against the card's own certificate file.
// RSA-PSS too where the token offers CKM_RSA_PKCS_PSS.
func TestCrypto11Signer(t *testing.T) {
	c := fx.StartCard(t, 0)
	env, srvEnv := server(t)
	var tokens []report.Token
	run(t, env, &tokens, "list")
	pss := map[string]bool{}
	for _, tk := range tokens {
		for _, m := range tk.Mechs {
			if m == 0x0D {
				pss[tk.Label] = true
			}
		}
	}
	for _, k := range []struct {
		token, pin, id, der string
		pss                 bool
	}{
		{clienttest.SignToken, clienttest.SignPIN, "02", "sign.der", false},
		{clienttest.AuthToken, clienttest.AuthPIN, "01", "auth.der", false},
		{clienttest.AuthToken, clienttest.AuthPIN, "01", "auth.der", true},
	} {
		if k.pss && !pss[k.token] {
			continue
		}
		t.Run(fmt.Sprintf("%s/pss=%v", strings.ReplaceAll(k.token, " ", "_"), k.pss), func(t *testing.T) {
			var s Signed
			run(t, append(env, "GOP11_PIN="+k.pin), &s, "-token", k.token, "-id", k.id, fmt.Sprintf("-pss=%v", k.pss), "sign")
			cert := readCert(t, c, k.der)
			if !bytes.Equal(s.Certificate, cert.Raw) {
				t.Fatal("crypto11's certificate is not the card's")
			}
			pub := cert.PublicKey.(*rsa.PublicKey)
			var err error
			if k.pss {
				err = rsa.VerifyPSS(pub, crypto.SHA256, s.Digest, s.Signature, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
			} else {
				err = rsa.VerifyPKCS1v15(pub, crypto.SHA256, s.Digest, s.Signature)
			}
			if err != nil {
				t.Fatalf("signature does not verify with crypto/rsa: %v", err)
			}
		})
	}
	if n := len(clienttest.SignMechanisms(t, srvEnv)); n < 2 {
		t.Fatalf("the module (in p11-kit server) logged %d signatures", n)
	}
}

// steps runs gop11 with args (a choreographed command: JSON lines {"step": ...})
// and calls on[step] when the program reaches that step, then writes a line to its
// stdin. It returns the steps in order; the test fails if gop11 fails.
func steps(t *testing.T, env []string, on map[string]func(), args ...string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := clienttest.Cmd(ctx, env, gop11, append([]string{"-module", clienttest.P11KitClient}, args...)...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var got []string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		var st struct{ Step, Error string }
		if err := json.Unmarshal(sc.Bytes(), &st); err != nil {
			t.Errorf("gop11 %v: %q: %v", args, sc.Text(), err)
			break
		}
		got = append(got, st.Step)
		if st.Error != "" {
			t.Logf("%s: %s", st.Step, st.Error)
		}
		if f, ok := on[st.Step]; ok {
			f()
			if _, err := io.WriteString(stdin, st.Step+" done\n"); err != nil {
				t.Errorf("gop11 stdin: %v", err)
			}
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("gop11 %v: %v (steps %q)\n%s", args, err, got, stderr.String())
	}
	return got
}

// TestRemovalThroughP11KitServer: in one module instance (the p11-kit server's), a
// session ends when its card is pulled (CKR_DEVICE_REMOVED or
// CKR_SESSION_HANDLE_INVALID), the token disappears, and after re-insertion the
// token comes back and signs again.
func TestRemovalThroughP11KitServer(t *testing.T) {
	c := fx.StartCard(t, 0)
	env, _ := server(t)
	got := steps(t, append(env, "GOP11_PIN="+clienttest.SignPIN), map[string]func(){
		"PULL": func() {
			if err := c.H.Pull(); err != nil {
				t.Fatal(err)
			}
			if err := fx.PC.WaitCard(0, false, 10*time.Second); err != nil {
				t.Fatal(err)
			}
			time.Sleep(500 * time.Millisecond) // the module's next PC/SC status poll
		},
		"INSERT": func() {
			if err := c.H.Insert(); err != nil {
				t.Fatal(err)
			}
			if err := fx.PC.WaitCard(0, true, 10*time.Second); err != nil {
				t.Fatal(err)
			}
		},
	}, "-token", clienttest.SignToken, "-id", "02", "removal")
	if want := "SIGNED PULL SESSION_GONE TOKEN_GONE INSERT TOKEN_BACK SIGNED_AGAIN"; strings.Join(got, " ") != want {
		t.Fatalf("gop11 removal: steps %q, want %q", got, want)
	}
}

// TestCardResetLosesLogin: another application resets the card (opensc-tool
// --reset through the same pcscd); the module's next signature in the logged-in
// session answers CKR_USER_NOT_LOGGED_IN without re-sending the PIN, and a new
// login works.
func TestCardResetLosesLogin(t *testing.T) {
	fx.StartCard(t, 0)
	env, _ := server(t)
	var mark int64 // the pcscd log right after the reset
	got := steps(t, append(env, "GOP11_PIN="+clienttest.SignPIN), map[string]func(){
		"RESET": func() {
			out, err := clienttest.Run(t, nil, "opensc-tool", "--reader", "0", "--reset", "cold")
			if err != nil {
				t.Fatalf("opensc-tool --reset: %v\n%s", err, out)
			}
			mark = fx.PC.Mark()
		},
	}, "-token", clienttest.SignToken, "-id", "02", "reset")
	if want := "SIGNED RESET NOT_LOGGED_IN SIGNED_AGAIN"; strings.Join(got, " ") != want {
		t.Fatalf("gop11 reset: steps %q, want %q", got, want)
	}
	// From the reset on: one VERIFY with the PIN (the user's new login), none behind
	// the user's back.
	n, err := fx.PC.CountAPDUs(mark, `^00 20 00 80 [0-9A-F]{2} `)
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("%d VERIFY APDUs with a PIN after the reset, want 1 (the new login)", n)
	}
}
