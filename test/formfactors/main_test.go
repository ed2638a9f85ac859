// Package formfactors tests the JPKI form factors and card variations public
// evidence shows (shared/JPKI.md §8; issue "Every JPKI form factor and every card
// variation; jpki diagnose") through the built module (pkcs11-tool), the jpki
// command and virtual cards made with jpki-vcard new --phone / --quirk /
// --ef0008 behind a private pcscd; and it replays the jpki diagnose reports of
// every variation (testdata/transcripts, and reports made in the test) through
// the card layer and the module's identification.
package formfactors

import (
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jpki-pkcs11/jpki-pkcs11/test/clients/clienttest"
	"github.com/jpki-pkcs11/jpki-pkcs11/test/harness"
)

// fx is this test process's private pcscd and module.
var fx clienttest.Fixture

func TestMain(m *testing.M) { os.Exit(clienttest.Main(m, &fx)) }

var jpkiBin struct {
	sync.Once
	path string
	err  error
}

// jpki runs build/jpki (built once per process) with stdin against the private
// pcscd and returns its stdout, stderr and exit code.
func jpki(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	jpkiBin.Do(func() { jpkiBin.path, jpkiBin.err = harness.Build("build/jpki") })
	if jpkiBin.err != nil {
		t.Fatal(jpkiBin.err)
	}
	cmd := exec.Command(jpkiBin.path, args...)
	cmd.Env = fx.PC.Env()
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.WaitDelay = 5 * time.Second
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start jpki: %v", err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(clienttest.DefaultTimeout):
		cmd.Process.Kill()
		<-done
		t.Fatalf("jpki %v: no answer in %v", args, clienttest.DefaultTimeout)
	}
	return out.String(), errb.String(), cmd.ProcessState.ExitCode()
}

// mustJPKI runs jpki, which must exit 0, and returns its stdout.
func mustJPKI(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, errs, code := jpki(t, stdin, args...)
	if code != 0 {
		t.Fatalf("jpki %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

// tool runs pkcs11-tool with the module; it must succeed.
func tool(t *testing.T, env []string, args ...string) string {
	t.Helper()
	return fx.MustPKCS11Tool(t, env, args...)
}

// slotArgs is the --slot argument for slot s, followed by more.
func slotArgs(s int, more ...string) []string {
	return append([]string{"--slot", strconv.Itoa(s)}, more...)
}
