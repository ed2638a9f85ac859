// Package cli_test drives build/jpki through a private pcscd and virtual My Number
// Cards served by build/jpki-vcard (test/harness): what a card holder sees.
package cli_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jpki-pkcs11/jpki-pkcs11/test/harness"
)

var (
	pc   *harness.PCSC
	jpki string // path of build/jpki
)

func TestMain(m *testing.M) {
	var err error
	jpki, err = buildJPKI()
	if err != nil {
		fmt.Fprintln(os.Stderr, "test/cli:", err)
		os.Exit(1)
	}
	pc, err = harness.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "test/cli:", err)
		os.Exit(1)
	}
	code := m.Run()
	pc.Stop(code != 0)
	if code != 0 {
		fmt.Fprintln(os.Stderr, "test/cli: logs kept in", pc.Dir)
	}
	os.Exit(code)
}

// buildJPKI runs `make build/jpki` under the harness's build lock.
func buildJPKI() (string, error) {
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
	cmd := exec.Command("make", "build/jpki")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("make build/jpki: %w: %s", err, out)
	}
	return filepath.Join(root, "build", "jpki"), nil
}

// result of one jpki run.
type result struct {
	out, err string
	code     int
}

// run runs build/jpki against the private pcscd with stdin.
func run(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(jpki, args...)
	cmd.Env = pc.Env()
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start jpki: %v", err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(90 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("jpki %v: no answer in 90 s", args)
	}
	return result{out.String(), errb.String(), cmd.ProcessState.ExitCode()}
}

// mustRun runs jpki and fails the test unless it exits 0.
func mustRun(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	r := run(t, stdin, args...)
	if r.code != 0 {
		t.Fatalf("jpki %v: exit %d\nstdout: %s\nstderr: %s", args, r.code, r.out, r.err)
	}
	return r
}

// insert makes a virtual card with the given jpki-vcard new flags and serves it
// into reader i until the test ends (then waits until the reader is empty).
func insert(t *testing.T, i int, flags ...string) *harness.Card {
	t.Helper()
	dir, err := pc.NewCardDir(fmt.Sprintf("%s-%d", strings.ReplaceAll(t.Name(), "/", "_"), i), flags...)
	if err != nil {
		t.Fatal(err)
	}
	c, err := pc.StartCard(dir, i)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Stop()
		if err := pc.WaitCard(i, false, 10*time.Second); err != nil {
			t.Errorf("reader %d not empty after the test: %v", i, err)
		}
	})
	return c
}

// verifyAPDUs counts VERIFY commands carrying a PIN (Lc present) since mark in
// the pcscd log; a tries query (00 20 00 80 with no data) is not counted.
func verifyAPDUs(t *testing.T, mark int64) int {
	t.Helper()
	n, err := pc.CountAPDUs(mark, `^00 20 00 [89][0-9A-F] [0-9A-F]{2} `)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
