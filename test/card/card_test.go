package cardtest

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jpki-pkcs11/jpki-pkcs11/card"
	"github.com/jpki-pkcs11/jpki-pkcs11/test/harness"
)

func TestIdentifyAndReadCertificates(t *testing.T) {
	_, dir := pc.NewCard(t, 0, nil)
	c := pc.Connect(t, 0)
	info, err := c.Identify()
	if err != nil {
		t.Fatal(err)
	}
	if info.Kind != card.KindMyNumber || info.TokenLabel != card.LabelMyNumber || !info.HasAuthCert || !info.HasSignCert {
		t.Fatalf("identify: %+v", info)
	}
	for _, f := range []struct {
		ef   uint16
		file string
	}{{card.EFAuthCert, "auth.der"}, {card.EFAuthCACert, "authca.der"}, {card.EFSignCACert, "signca.der"}} {
		got, err := c.ReadFile(f.ef)
		if err != nil {
			t.Fatalf("read EF %04X: %v", f.ef, err)
		}
		want, _ := os.ReadFile(filepath.Join(dir, f.file))
		if !bytes.Equal(got, want) {
			t.Fatalf("EF %04X: %d bytes differ from %s (%d bytes)", f.ef, len(got), f.file, len(want))
		}
	}
	if _, err := c.ReadFile(card.EFSignCert); !errors.Is(err, card.ErrNotLoggedIn) {
		t.Fatalf("signature certificate before the PIN: %v, want ErrNotLoggedIn", err)
	}
	if err := c.Verify(card.SignKey, []byte("abc123")); err != nil { // folded to upper case
		t.Fatal(err)
	}
	got, err := c.ReadFile(card.EFSignCert)
	want, _ := os.ReadFile(filepath.Join(dir, "sign.der"))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("signature certificate after the PIN: %d bytes, %v", len(got), err)
	}
}

func TestKinds(t *testing.T) {
	for _, tc := range []struct {
		args []string
		kind card.Kind
	}{
		{[]string{"--under15"}, card.KindMyNumberNoSign},
		{[]string{"--juki"}, card.KindJuki},
	} {
		t.Run(tc.args[0], func(t *testing.T) {
			pc.NewCard(t, 1, tc.args)
			info, err := pc.Connect(t, 1).Identify()
			if err != nil || info.Kind != tc.kind {
				t.Fatalf("identify: %+v %v, want %v", info, err, tc.kind)
			}
		})
	}
}

func TestVerifyTriesAndBlock(t *testing.T) {
	_, dir := pc.NewCard(t, 1, []string{"--auth-pin", "4321"})
	c := pc.Connect(t, 1)
	tries := func(k card.Key, want int) {
		t.Helper()
		n, err := c.TriesLeft(k)
		if err != nil || n != want {
			t.Fatalf("%v tries left: %d %v, want %d", k, n, err, want)
		}
	}
	tries(card.AuthKey, 3)
	tries(card.SignKey, 5)
	tries(card.AuthKey, 3) // asking costs nothing
	mark := pc.Mark()
	err := c.Verify(card.AuthKey, []byte("1111"))
	if n, ok := triesOf(err); !errors.Is(err, card.ErrWrongPIN) || !ok || n != 2 {
		t.Fatalf("wrong PIN: %v", err)
	}
	// Exactly one VERIFY with data went to the card.
	if n, err := pc.CountAPDUs(mark, `^00 20 00 (80|98) 04`); err != nil || n != 1 {
		t.Fatalf("VERIFY APDUs with data: %d %v, want 1", n, err)
	}
	tries(card.AuthKey, 2)
	if err := c.Verify(card.AuthKey, []byte("12")); !errors.Is(err, card.ErrPINFormat) {
		t.Fatalf("malformed PIN: %v", err)
	}
	tries(card.AuthKey, 2) // a malformed PIN costs nothing
	if err := c.Verify(card.AuthKey, []byte("4321")); err != nil {
		t.Fatal(err)
	}
	tries(card.AuthKey, 3)
	for i, want := range []int{2, 1, 0} {
		err := c.Verify(card.AuthKey, []byte("0000"))
		if n, ok := triesOf(err); !ok || n != want {
			t.Fatalf("wrong try %d: %v, want 63 C%X", i, err, want)
		}
	}
	if err := c.Verify(card.AuthKey, []byte("4321")); !errors.Is(err, card.ErrPINBlocked) {
		t.Fatalf("blocked PIN: %v", err)
	}
	tries(card.AuthKey, 0)
	tries(card.SignKey, 5)
	// Blocked stays blocked for the card file (state.json).
	out, err := exec.Command(mustVcard(t), "info", dir).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "auth PIN tries:  0 of 3 (BLOCKED)") {
		t.Fatalf("jpki-vcard info: %v\n%s", err, out)
	}
}

func triesOf(err error) (int, bool) {
	var se card.StatusError
	if !errors.As(err, &se) {
		return 0, false
	}
	return se.TriesLeft()
}

func mustVcard(t *testing.T) string {
	t.Helper()
	bin, err := harness.VcardBinary()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

func TestChangePIN(t *testing.T) {
	pc.NewCard(t, 1, nil)
	c := pc.Connect(t, 1)
	if err := c.ChangePIN(card.AuthKey, []byte("1234"), []byte("5678")); err != nil {
		t.Fatal(err)
	}
	if err := c.ChangePIN(card.SignKey, []byte("ABC123"), []byte("newpass7")); err != nil {
		t.Fatal(err)
	}
	if err := c.Logout(card.AuthKey); err != nil {
		t.Fatal(err)
	}
	if err := c.Verify(card.AuthKey, []byte("5678")); err != nil {
		t.Fatalf("new auth PIN: %v", err)
	}
	if err := c.Verify(card.SignKey, []byte("NEWPASS7")); err != nil {
		t.Fatalf("new sign PIN: %v", err)
	}
	err := c.Verify(card.AuthKey, []byte("1234"))
	if n, ok := triesOf(err); !ok || n != 2 {
		t.Fatalf("old auth PIN: %v", err)
	}
}

func TestSignBothKeys(t *testing.T) {
	pc.NewCard(t, 0, nil)
	c := pc.Connect(t, 0)
	data := []byte("document to sign, " + time.Now().String())
	dataFile := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(dataFile, data, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, k := range []struct {
		key card.Key
		pin string
	}{{card.AuthKey, "1234"}, {card.SignKey, "ABC123"}} {
		if _, err := c.Sign(k.key, card.SchemePKCS1, digestInfo(data)); !errors.Is(err, card.ErrNotLoggedIn) {
			t.Fatalf("%v: sign before login: %v", k.key, err)
		}
		if err := c.Verify(k.key, []byte(k.pin)); err != nil {
			t.Fatal(err)
		}
		certDER, err := c.ReadFile(k.key.CertFile())
		if err != nil {
			t.Fatal(err)
		}
		pub := pubKeyFile(t, certDER)
		sig, err := c.Sign(k.key, card.SchemePKCS1, digestInfo(data))
		if err != nil || len(sig) != 256 {
			t.Fatalf("%v: sign: %d bytes, %v", k.key, len(sig), err)
		}
		sigFile := filepath.Join(t.TempDir(), "sig")
		os.WriteFile(sigFile, sig, 0o600)
		if out := openssl(t, "dgst", "-sha256", "-verify", pub, "-signature", sigFile, dataFile); !strings.Contains(out, "Verified OK") {
			t.Fatalf("%v: openssl: %s", k.key, out)
		}
		// PSS (P1 04) over the SHA-256 hash, salt 32.
		h := digestInfo(data)[19:]
		sig, err = c.Sign(k.key, card.SchemePSSSHA256, h)
		if err != nil {
			t.Fatalf("%v: PSS sign: %v", k.key, err)
		}
		os.WriteFile(sigFile, sig, 0o600)
		if out := openssl(t, "dgst", "-sha256", "-verify", pub, "-sigopt", "rsa_padding_mode:pss",
			"-sigopt", "rsa_pss_saltlen:32", "-signature", sigFile, dataFile); !strings.Contains(out, "Verified OK") {
			t.Fatalf("%v: openssl PSS: %s", k.key, out)
		}
	}
}

func TestRemovedMidOperation(t *testing.T) {
	vc, _ := pc.NewCard(t, 0, nil, "--latency", "100ms")
	c := pc.Connect(t, 0)
	if _, err := c.Identify(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := c.ReadFile(card.EFAuthCert) // 4 APDUs (short EF, 256-byte reads) at 100 ms each
		done <- err
	}()
	time.Sleep(100 * time.Millisecond)
	if err := vc.Pull(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, card.ErrRemoved) {
			t.Fatalf("read while pulled out: %v, want ErrRemoved", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("read did not return after the card was pulled out")
	}
	if err := pc.WaitCard(0, false, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := c.TriesLeft(card.AuthKey); !errors.Is(err, card.ErrRemoved) {
		t.Fatalf("old connection after removal: %v, want ErrRemoved", err)
	}
	if err := vc.Insert(); err != nil {
		t.Fatal(err)
	}
	if err := pc.WaitCard(0, true, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	c2 := pc.Connect(t, 0)
	if info, err := c2.Identify(); err != nil || info.Kind != card.KindMyNumber {
		t.Fatalf("after re-insertion: %+v %v", info, err)
	}
	if _, err := c2.ReadFile(card.EFAuthCert); err != nil {
		t.Fatal(err)
	}
}

// TestOpenSCAcceptsTheVirtualCard is the fidelity check: OpenSC's own JPKI driver,
// written against real cards, lists the slots, reads the certificate, logs in and
// signs on our virtual card.
func TestOpenSCAcceptsTheVirtualCard(t *testing.T) {
	const opensc = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"
	if _, err := os.Stat(opensc); err != nil {
		t.Fatalf("OpenSC is not installed (make deps): %v", err)
	}
	pc.NewCard(t, 0, nil)
	tmp := t.TempDir()
	tool := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("pkcs11-tool", append([]string{"--module", opensc}, args...)...)
		cmd.Env = pc.Env()
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("pkcs11-tool %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	slots := tool("-L")
	if !strings.Contains(slots, "JPKI (User Authentication PIN)") || !strings.Contains(slots, "JPKI (Digital Signature PIN)") {
		t.Fatalf("OpenSC slots:\n%s", slots)
	}
	certFile := filepath.Join(tmp, "auth.der")
	tool("--read-object", "--type", "cert", "--id", "01", "-o", certFile)
	certDER, _ := os.ReadFile(certFile)
	pub := pubKeyFile(t, certDER)
	data := filepath.Join(tmp, "data")
	os.WriteFile(data, bytes.Repeat([]byte("x"), 1000), 0o600)
	sig := filepath.Join(tmp, "sig")
	tool("--login", "--pin", "1234", "--sign", "-m", "SHA256-RSA-PKCS", "--id", "01", "-i", data, "-o", sig)
	if out := openssl(t, "dgst", "-sha256", "-verify", pub, "-signature", sig, data); !strings.Contains(out, "Verified OK") {
		t.Fatalf("openssl: %s", out)
	}
}

// TestServiceRestart: pcscd goes away and comes back; the served card reconnects
// to the new vpcd by itself and the card layer works again on a new connection.
func TestServiceRestart(t *testing.T) {
	pc.NewCard(t, 0, nil)
	c := pc.Connect(t, 0)
	if _, err := c.Identify(); err != nil {
		t.Fatal(err)
	}
	if err := pc.Restart(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Identify(); err == nil {
		t.Fatal("old connection still works after the service restarted")
	}
	if err := pc.WaitCard(0, true, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if info, err := pc.Connect(t, 0).Identify(); err != nil || info.Kind != card.KindMyNumber {
		t.Fatalf("after the restart: %+v %v", info, err)
	}
}
