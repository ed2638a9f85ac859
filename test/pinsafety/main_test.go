// Package pinsafety proves that a PIN try is never wasted and a PIN never logged:
// malformed PINs never reach the card, a wrong well-formed PIN costs exactly one
// try, nothing retries, and no log holds a PIN. It runs against virtual My Number
// Cards served through a private pcscd (test/harness), first through the card
// layer (card/pcsc + card.Card), then through the built module driven by
// pkcs11-tool (the module is never loaded into this Go process).
//
// The witness of "what reached the card" is the private pcscd's APDU log
// (pcscd --debug --apdu). That log holds raw APDUs, PIN bytes included, by
// design: it is the test's eye on the wire and is excluded from the "no PIN in any
// log" checks. Production pcscd does not run with --apdu. Every other log is
// checked: the virtual card's --log (PIN bytes masked) and the module's debug log
// (JPKI_PKCS11_DEBUG, at its only, most verbose level).
package pinsafety

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/jpki-pkcs11/jpki-pkcs11/test/harness"
)

// pc is the private pcscd of this test process.
var pc *harness.PCSC

func TestMain(m *testing.M) {
	p, err := harness.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: cannot start the private pcscd:", err)
		os.Exit(1)
	}
	pc = p
	code := m.Run()
	keep := code != 0 && os.Getenv("KEEP_HARNESS") != ""
	p.Stop(keep)
	if keep {
		fmt.Fprintln(os.Stderr, "pinsafety: logs kept in", p.Dir)
	}
	os.Exit(code)
}

// moduleLib builds build/jpki-pkcs11.so with make (under the harness's build lock,
// shared with other test packages) and returns its path.
func moduleLib() (string, error) {
	root, err := harness.RepoRoot()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Join(root, "build"), 0o755); err != nil {
		return "", err
	}
	lock, err := os.OpenFile(filepath.Join(root, "build", ".harness.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", err
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	cmd := exec.Command("make", "build/jpki-pkcs11.so")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("make build/jpki-pkcs11.so: %w: %s", err, out)
	}
	return filepath.Join(root, "build", "jpki-pkcs11.so"), nil
}
