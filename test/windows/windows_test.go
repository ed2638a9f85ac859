package windowstest

import (
	"bytes"
	"encoding/asn1"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jpki-pkcs11/jpki-pkcs11/test/harness"
)

// TestBridgeSelectsJPKI: a plain Windows program lists the private pcscd's readers
// through the winscard bridge and gets 90 00 for SELECT of the JPKI AP.
func TestBridgeSelectsJPKI(t *testing.T) {
	need(t)
	dir, err := env.pc.NewCardDir("bridge")
	if err != nil {
		t.Fatal(err)
	}
	startCard(t, dir)
	out, err := wine(t, time.Minute, nil, filepath.Join(env.win, "scardls.exe"))
	if err != nil {
		t.Fatalf("scardls.exe: %v\n%s", err, out)
	}
	for _, want := range []string{"reader: Virtual PCD 00 00", "reader: Virtual PCD 00 01", "select JPKI AP: 90 00"} {
		if !strings.Contains(out, want) {
			t.Errorf("scardls.exe output lacks %q:\n%s", want, out)
		}
	}
}

// TestGoRuntimeUnderWine: a Go c-shared DLL starts under Wine (ProcessPrng from our
// bcryptprimitives.dll) and github.com/ebfe/scard lists the readers through the bridge.
func TestGoRuntimeUnderWine(t *testing.T) {
	need(t)
	out, err := wine(t, time.Minute, nil, filepath.Join(env.win, "godllhost.exe"), winPath(filepath.Join(env.win, "godll.dll")))
	if err != nil {
		t.Fatalf("godllhost.exe: %v\n%s", err, out)
	}
	if !strings.Contains(out, "readers: 2") || !strings.Contains(out, "Virtual PCD 00 00") {
		t.Errorf("the Go DLL did not list the two readers:\n%s", out)
	}
}

// readState reads the card's state.json and fails the test when it has no PINs or
// tries.
func readState(t *testing.T, dir string) harness.CardState {
	t.Helper()
	s := harness.ReadCardState(t, dir)
	if s.AuthPIN == "" || s.SignPIN == "" || s.AuthTries == 0 {
		t.Fatalf("state.json without PINs or tries: PINs set %t/%t, auth tries %d", s.AuthPIN != "", s.SignPIN != "", s.AuthTries)
	}
	return s
}

// copyCard copies a card directory (keys, certificates, state) so that each host
// starts from the same fresh card.
func copyCard(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.MkdirAll(dst, 0o700); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err == nil {
			err = os.WriteFile(filepath.Join(dst, e.Name()), b, 0o600)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// wrongPIN is a well-formed authentication PIN that is not pin.
func wrongPIN(pin string) string {
	b := []byte(pin)
	for i := range b {
		b[i] = '0' + (b[i]-'0'+1)%10
	}
	return string(b)
}

// wrongVerify matches a VERIFY with data answered 63 Cx in the card's APDU log
// (P2 80 after a SELECT of the PIN EF; the next generation's 81 and 82 name the
// PIN by reference).
var wrongVerify = regexp.MustCompile(`(?m)00 20 00 8[0-2] [0-9A-F]{2} \*\* -> 63 C`)

// hostRun is one run of the test host: its canonical output and files.
type hostRun struct {
	name, out string
	canon     []string
}

// runHost serves a fresh copy of the card, runs the host (Linux or Windows), and
// checks what the run did to the card: exactly one PIN try spent (the wrong PIN),
// on the authentication PIN only.
func runHost(t *testing.T, name, master string, cmd func(out string, pins []string) (string, error)) hostRun {
	t.Helper()
	dir := filepath.Join(env.pc.Dir, "card-"+name)
	copyCard(t, master, dir)
	before := readState(t, dir)
	c := startCard(t, dir)
	out := t.TempDir()
	pins := []string{"JPKI_AUTH_PIN=" + before.AuthPIN, "JPKI_SIGN_PIN=" + before.SignPIN, "JPKI_WRONG_PIN=" + wrongPIN(before.AuthPIN)}
	mark := env.pc.Mark()
	text, err := cmd(out, pins)
	canon, rerr := os.ReadFile(filepath.Join(out, "canon.txt"))
	if err != nil || rerr != nil {
		t.Fatalf("%s host: %v %v\n%s\n%s", name, err, rerr, text, tail(string(canon), 20))
	}
	lines := strings.Split(strings.TrimRight(string(canon), "\n"), "\n")
	for _, want := range []string{"unload = ok", "failures = 0"} {
		if !strings.Contains(string(canon), want+"\n") {
			t.Errorf("%s host: no %q in its output", name, want)
		}
	}
	// the host's last C_Finalize wakes a thread blocked in C_WaitForSlotEvent: the
	// module's blocking SCardGetStatusChange reached pcscd and SCardCancel ended it
	// (winscard.dll's under Wine)
	log := pcscdLogSince(t, mark)
	for _, req := range []string{"Received command: CMD_WAIT_READER_STATE_CHANGE", "Received command: CANCEL "} {
		if !strings.Contains(log, req) {
			t.Errorf("%s host: pcscd got no %q: the wait during C_Finalize did not block in PC/SC", name, req)
		}
	}
	stopCard(t, c)
	after := readState(t, dir)
	if after.AuthTries != before.AuthTries-1 || after.SignTries != before.SignTries {
		t.Errorf("%s host: PIN tries %d/%d -> %d/%d, want exactly one authentication try spent",
			name, before.AuthTries, before.SignTries, after.AuthTries, after.SignTries)
	}
	if n := len(wrongVerify.FindAllString(c.Log(), -1)); n != 1 {
		t.Errorf("%s host: %d wrong-PIN VERIFYs reached the card, want exactly 1", name, n)
	}
	return hostRun{name: name, out: out, canon: lines}
}

// pcscdLogSince returns what pcscd logged after offset mark of its log.
func pcscdLogSince(t *testing.T, mark int64) string {
	t.Helper()
	b, err := os.ReadFile(env.pc.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	if mark > int64(len(b)) {
		return ""
	}
	return string(b[mark:])
}

func tail(s string, n int) string {
	l := strings.Split(s, "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

// TestHostsAgree runs the same host against the Linux module and, under Wine, the
// Windows DLL, each on a fresh copy of one card, and compares every field.
func TestHostsAgree(t *testing.T) {
	need(t)
	master, err := env.pc.NewCardDir("master")
	if err != nil {
		t.Fatal(err)
	}
	linux := runHost(t, "linux", master, func(out string, pins []string) (string, error) {
		cmd := exec.Command(filepath.Join(env.win, "host"), filepath.Join(env.root, "build", "jpki-pkcs11.so"),
			filepath.Join(out, "canon.txt"), out)
		cmd.Env = append(env.pc.Env(), pins...)
		b, err := cmd.CombinedOutput()
		return string(b), err
	})
	windows := runHost(t, "windows", master, func(out string, pins []string) (string, error) {
		return wine(t, 5*time.Minute, pins, filepath.Join(env.win, "host.exe"),
			winPath(filepath.Join(env.root, "build", "jpki-pkcs11.dll")), winPath(filepath.Join(out, "canon.txt")), winPath(out))
	})
	compareCanon(t, linux, windows)
	for _, r := range []hostRun{linux, windows} {
		for _, key := range []string{"auth", "sign"} {
			verifySignature(t, r, key, master)
		}
	}
	for _, f := range []string{"auth.sig", "sign.sig"} {
		a, _ := os.ReadFile(filepath.Join(linux.out, f))
		b, _ := os.ReadFile(filepath.Join(windows.out, f))
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Errorf("%s differs between Linux and Windows (RSA PKCS#1 v1.5 is deterministic)", f)
		}
	}
}

// compareCanon compares the two canonical outputs line by line, ignoring the lines
// whose key starts with '~' (handles, clock, ABI sizes).
func compareCanon(t *testing.T, a, b hostRun) {
	t.Helper()
	fa, fb := keep(a.canon), keep(b.canon)
	if len(fa) < 100 {
		t.Fatalf("%s host printed only %d lines", a.name, len(fa))
	}
	bad := 0
	for i := 0; i < len(fa) || i < len(fb); i++ {
		var la, lb string
		if i < len(fa) {
			la = fa[i]
		}
		if i < len(fb) {
			lb = fb[i]
		}
		if la != lb {
			if bad++; bad <= 20 {
				t.Errorf("field %d differs:\n  %s: %s\n  %s: %s", i, a.name, la, b.name, lb)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d fields differ between %s and %s", bad, len(fa), a.name, b.name)
	} else {
		t.Logf("%d fields identical between %s and %s", len(fa), a.name, b.name)
	}
}

func keep(lines []string) []string {
	var out []string
	for _, l := range lines {
		if !strings.HasPrefix(l, "~") {
			out = append(out, l)
		}
	}
	return out
}

// verifySignature checks with openssl that the host's signature over data.bin
// verifies with the certificate it read through the module, and that this is the
// card's own certificate.
func verifySignature(t *testing.T, r hostRun, key, card string) {
	t.Helper()
	cert := filepath.Join(r.out, key+".der")
	got, err := os.ReadFile(cert)
	if err != nil {
		t.Errorf("%s host: no %s certificate: %v", r.name, key, err)
		return
	}
	want, err := os.ReadFile(filepath.Join(card, key+".der"))
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("%s host: the %s certificate read through the module is not the card's (%v)", r.name, key, err)
	}
	pub := filepath.Join(r.out, key+".pub")
	if out, err := exec.Command("openssl", "x509", "-inform", "DER", "-in", cert, "-pubkey", "-noout", "-out", pub).CombinedOutput(); err != nil {
		t.Errorf("openssl x509: %v\n%s", err, out)
		return
	}
	out, err := exec.Command("openssl", "dgst", "-sha256", "-verify", pub, "-signature",
		filepath.Join(r.out, key+".sig"), filepath.Join(r.out, "data.bin")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Verified OK") {
		t.Errorf("%s host: the %s signature does not verify: %v\n%s", r.name, key, err, out)
		return
	}
	t.Logf("%s host: %s signature verified by openssl", r.name, key)
	pss := filepath.Join(r.out, key+".pss")
	if _, err := os.Stat(pss); err != nil {
		return // the module refused PSS for this key on this platform: the comparison shows it
	}
	out, err = exec.Command("openssl", "dgst", "-sha256", "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32",
		"-verify", pub, "-signature", pss, filepath.Join(r.out, "data.bin")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Verified OK") {
		t.Errorf("%s host: the %s RSA-PSS signature does not verify: %v\n%s", r.name, key, err, out)
		return
	}
	t.Logf("%s host: %s RSA-PSS signature verified by openssl", r.name, key)
}

// TestHostsAgreeNextGeneration: TestHostsAgree on the virtual next-generation
// card (ECDSA P-384 keys, assumed commands): the Windows DLL under Wine and the
// Linux module give the same structures field by field (ECDSA signatures are
// randomised: their codes and lengths are compared), exactly one PIN try is
// spent, and openssl verifies each host's CKM_ECDSA_SHA384 and CKM_ECDSA
// signatures with both keys against the certificates read through the module.
func TestHostsAgreeNextGeneration(t *testing.T) {
	need(t)
	master, err := env.pc.NewCardDir("master-next", "--generation", "next")
	if err != nil {
		t.Fatal(err)
	}
	linux := runHost(t, "linux-next", master, func(out string, pins []string) (string, error) {
		cmd := exec.Command(filepath.Join(env.win, "host"), filepath.Join(env.root, "build", "jpki-pkcs11.so"),
			filepath.Join(out, "canon.txt"), out)
		cmd.Env = append(env.pc.Env(), pins...)
		b, err := cmd.CombinedOutput()
		return string(b), err
	})
	windows := runHost(t, "windows-next", master, func(out string, pins []string) (string, error) {
		return wine(t, 5*time.Minute, pins, filepath.Join(env.win, "host.exe"),
			winPath(filepath.Join(env.root, "build", "jpki-pkcs11.dll")), winPath(filepath.Join(out, "canon.txt")), winPath(out))
	})
	compareCanon(t, linux, windows)
	for _, r := range []hostRun{linux, windows} {
		for _, want := range []string{"token[0].user.ecsign = 96", "token[1].user.ecsign = 96"} {
			if !slices.Contains(r.canon, want) {
				t.Errorf("%s host: no %q: no ECDSA signature with both keys", r.name, want)
			}
		}
		if !slices.ContainsFunc(r.canon, func(l string) bool { return strings.HasSuffix(l, ".CKA_KEY_TYPE = 3") }) {
			t.Errorf("%s host: no CKK_EC key among the objects", r.name)
		}
		for _, key := range []string{"auth", "sign"} {
			verifyECDSASignatures(t, r, key, master)
		}
	}
}

// verifyECDSASignatures checks with openssl the host's ECDSA signatures with
// key: r||s of SHA-384 over data.bin (CKM_ECDSA_SHA384) and of the hash
// data.sha384 (CKM_ECDSA), against the certificate read through the module,
// which must be the card's.
func verifyECDSASignatures(t *testing.T, r hostRun, key, card string) {
	t.Helper()
	cert := filepath.Join(r.out, key+".der")
	got, err := os.ReadFile(cert)
	want, werr := os.ReadFile(filepath.Join(card, key+".der"))
	if err != nil || werr != nil || !bytes.Equal(got, want) {
		t.Errorf("%s host: the %s certificate read through the module is not the card's (%v %v)", r.name, key, err, werr)
		return
	}
	pub := filepath.Join(r.out, key+".pub")
	if out, err := exec.Command("openssl", "x509", "-inform", "DER", "-in", cert, "-pubkey", "-noout", "-out", pub).CombinedOutput(); err != nil {
		t.Errorf("openssl x509: %v\n%s", err, out)
		return
	}
	for _, s := range []struct{ file, args, what string }{
		{key + ".sig", "dgst -sha384 -verify PUB -signature SIG " + filepath.Join(r.out, "data.bin"), "Verified OK"},
		{key + ".rawsig", "pkeyutl -verify -pubin -inkey PUB -sigfile SIG -in " + filepath.Join(r.out, "data.sha384"), "Signature Verified Successfully"},
	} {
		rs, err := os.ReadFile(filepath.Join(r.out, s.file))
		if err != nil || len(rs) != 96 {
			t.Errorf("%s host: %s: %d bytes, %v (want r||s, 96)", r.name, s.file, len(rs), err)
			continue
		}
		der, _ := asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(rs[:48]), new(big.Int).SetBytes(rs[48:])})
		sig := filepath.Join(r.out, s.file+".der")
		if err := os.WriteFile(sig, der, 0o600); err != nil {
			t.Fatal(err)
		}
		args := strings.Fields(strings.NewReplacer("PUB", pub, "SIG", sig).Replace(s.args))
		out, err := exec.Command("openssl", args...).CombinedOutput()
		if err != nil || !strings.Contains(string(out), s.what) {
			t.Errorf("%s host: the %s signature %s does not verify: %v\n%s", r.name, key, s.file, err, out)
			continue
		}
		t.Logf("%s host: %s ECDSA signature %s verified by openssl", r.name, key, s.file)
	}
}
