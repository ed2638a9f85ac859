// Package cli_test drives build/jpki through a private pcscd and virtual My Number
// Cards served by build/jpki-vcard (test/harness): what a card holder sees.
package cli_test

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jpki-pkcs11/jpki-pkcs11/test/harness"
)

var (
	pc   *harness.PCSC
	jpki string // path of build/jpki
)

func TestMain(m *testing.M) {
	os.Exit(harness.Main(m, "test/cli", func(p *harness.PCSC) error {
		pc = p
		var err error
		jpki, err = harness.Build("build/jpki")
		return err
	}))
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
	c, _ := pc.NewCard(t, i, flags)
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
