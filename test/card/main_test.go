// Package cardtest tests the card layer (card/ over card/pcsc) against virtual
// My Number Cards served through a private pcscd and vpcd (test/harness).
package cardtest

import (
	"crypto/sha256"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/jpki-pkcs11/jpki-pkcs11/test/harness"
)

// pc is the private pcscd of this test process.
var pc *harness.PCSC

func TestMain(m *testing.M) {
	os.Exit(harness.Main(m, "test/card", func(p *harness.PCSC) error { pc = p; return nil }))
}

// digestInfo is the SHA-256 DigestInfo of data.
func digestInfo(data []byte) []byte {
	h := sha256.Sum256(data)
	prefix := []byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}
	return append(prefix, h[:]...)
}

// openssl runs openssl with args; the test fails with its output on error.
func openssl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("openssl", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// pubKeyFile extracts the public key of a DER certificate into a PEM file.
func pubKeyFile(t *testing.T, certDER []byte) string {
	t.Helper()
	dir := t.TempDir()
	cert := filepath.Join(dir, "cert.der")
	if err := os.WriteFile(cert, certDER, 0o600); err != nil {
		t.Fatal(err)
	}
	pub := filepath.Join(dir, "pub.pem")
	openssl(t, "x509", "-inform", "der", "-in", cert, "-pubkey", "-noout", "-out", pub)
	return pub
}
