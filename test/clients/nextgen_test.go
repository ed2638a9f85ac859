package clients

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jpki-pkcs11/jpki-pkcs11/test/clients/clienttest"
)

// nextGenTokens pulls the shared card (its tokens have the same labels) and
// serves a virtual next-generation card (ECDSA P-384) into reader 1 for the
// test; it returns the card with the slot ids of its tokens.
func nextGenTokens(t *testing.T) tokens {
	t.Helper()
	fx.PullShared(t)
	c := fx.StartCard(t, 1, "--generation", "next")
	slots := fx.Slots(t, clienttest.Env(t))
	return tokens{card: c, auth: clienttest.TokenSlot(t, slots, clienttest.AuthToken),
		sign: clienttest.TokenSlot(t, slots, clienttest.SignToken)}
}

// ecdsaMechanisms fails the test unless the client signed, only with ECDSA
// mechanisms.
func ecdsaMechanisms(t *testing.T, env []string) {
	t.Helper()
	m := clienttest.SignMechanisms(t, env)
	if len(m) == 0 || slices.ContainsFunc(m, func(x int) bool {
		return x != clienttest.CKM_ECDSA && x != clienttest.CKM_ECDSA_SHA256 && x != clienttest.CKM_ECDSA_SHA384
	}) {
		t.Fatalf("signed with mechanisms %#x, want ECDSA ones", m)
	}
}

// TestNextGenerationJarsigner: jarsigner signs a jar with the next-generation
// card's signature key (SHA384withECDSA, a 384-bit key), `jarsigner -verify`
// accepts it, and the signature block (META-INF/*.EC) holds the card's
// certificate and verifies with openssl over the .SF file.
func TestNextGenerationJarsigner(t *testing.T) {
	tk := nextGenTokens(t)
	dir := t.TempDir()
	in, out := makeJar(t, dir), filepath.Join(dir, "signed.jar")
	env := clienttest.Env(t, "PIN="+clienttest.SignPIN)
	args := append(keystoreArgs(javaConfig(t, tk.sign)), "-storepass:env", "PIN", "-signedjar", out, in,
		"Digital Signature Certificate")
	clienttest.Contains(t, "jarsigner", clienttest.MustRun(t, env, "jarsigner", args...), "jar signed.")
	vo := clienttest.MustRun(t, nil, "jarsigner", "-verify", "-verbose", "-certs", out)
	clienttest.Contains(t, "jarsigner -verify", vo, "jar verified.", "s = signature was verified",
		"Signature algorithm: SHA384withECDSA, 384-bit key")
	ecdsaMechanisms(t, env)
	zr, err := zip.OpenReader(out)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var block, sf string
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		_, _ = b.ReadFrom(rc)
		rc.Close()
		switch {
		case strings.HasPrefix(f.Name, "META-INF/") && strings.HasSuffix(f.Name, ".EC"):
			block = clienttest.WriteFile(t, dir, "block.p7", b.Bytes(), 0o600)
		case strings.HasPrefix(f.Name, "META-INF/") && strings.HasSuffix(f.Name, ".SF"):
			sf = clienttest.WriteFile(t, dir, "sig.sf", b.Bytes(), 0o600)
		}
	}
	if block == "" || sf == "" {
		t.Fatal("no META-INF/*.EC and *.SF in the signed jar")
	}
	certs := clienttest.MustRun(t, nil, "openssl", "pkcs7", "-inform", "der", "-in", block, "-print_certs")
	want, err := os.ReadFile(tk.card.PEM(t, "sign.der"))
	if err != nil {
		t.Fatal(err)
	}
	clienttest.Contains(t, "the signature block's certificates", certs, strings.TrimSpace(string(want)))
	clienttest.MustRun(t, nil, "openssl", "cms", "-verify", "-noverify", "-binary", "-inform", "der", "-in", block,
		"-content", sf, "-out", filepath.Join(dir, "verified.sf"))
}

// TestNextGenerationSSH: `ssh -I module` logs in with the next-generation
// card's authentication key (ecdsa-sha2-nistp384, the PIN from SSH_ASKPASS) to
// a private sshd whose authorized_keys holds that key.
func TestNextGenerationSSH(t *testing.T) {
	tk := nextGenTokens(t)
	key := clienttest.SSHKey(t, tk.card, "auth.der")
	if !strings.HasPrefix(key, "ecdsa-sha2-nistp384 ") {
		t.Fatalf("the authentication key as ssh sees it: %q", key)
	}
	out := clienttest.MustRun(t, clienttest.Env(t), "ssh-keygen", "-D", fx.Module)
	if !strings.HasPrefix(out, key+" ") {
		t.Fatalf("ssh-keygen -D: the first key is not the authentication key %q:\n%s", key, out)
	}
	port, dir, srv := clienttest.SSHD(t, tk.card)
	env := clienttest.WithAskpass(t, dir, clienttest.Env(t))
	out, err := clienttest.RunIn(t, "", []byte{}, env, "ssh", clienttest.SSHArgs(dir, port, "-I", fx.Module)...)
	if err != nil {
		t.Fatalf("ssh: %v\n%s", err, out)
	}
	clienttest.Contains(t, "ssh", out, "logged-in-as-root")
	fp := strings.Fields(clienttest.MustRun(t, nil, "ssh-keygen", "-l", "-f", filepath.Join(dir, "authorized_keys")))[1]
	srv.WaitOutput(t, "sshd log", "Accepted publickey for root from 127.0.0.1", "ECDSA "+fp)
	ecdsaMechanisms(t, env)
}
