// Package clienttest is the shared fixture of the tests that drive real PKCS#11
// clients (test/clients, test/module, test/gop11, test/nss, test/libreoffice, test/tls13): the private pcscd of the test
// process (test/harness), the built module (build/jpki-pkcs11.so), virtual cards,
// and running programs with a timeout and the module's debug log.
//
// The module is only ever loaded by the programs these tests start, never by the
// Go test process itself.
package clienttest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jpki-pkcs11/jpki-pkcs11/test/harness"
)

// The PINs of the cards made by StartCard (jpki-vcard new defaults are not relied on).
const (
	AuthPIN = "1234"
	SignPIN = "ABC123"
)

// Token and object labels the module gives a normal card.
const (
	AuthToken = "JPKI Authentication"
	SignToken = "JPKI Signature"
)

// Fixture is what one test process shares: its private pcscd and the module path.
type Fixture struct {
	PC     *harness.PCSC
	Root   string // repository root
	Built  string // absolute path of build/jpki-pkcs11.so
	Module string // a private copy of Built, made at start: what the programs load

	shared struct {
		sync.Once
		card *Card
		err  error
	}
	dirs struct {
		sync.Mutex
		m map[string]string
	}
}

// CardDir returns the directory of a card made once per test process with
// `jpki-vcard new` (PINs AuthPIN/SignPIN, extra flags newArgs) under key, so tests
// that do not change a card's PINs or tries can share it (served with ServeCard).
func (f *Fixture) CardDir(t testing.TB, key string, newArgs ...string) string {
	t.Helper()
	f.dirs.Lock()
	defer f.dirs.Unlock()
	if d, ok := f.dirs.m[key]; ok {
		return d
	}
	args := append([]string{"--auth-pin", AuthPIN, "--sign-pin", SignPIN}, newArgs...)
	d, err := f.PC.NewCardDir("cached-"+key, args...)
	if err != nil {
		t.Fatal(err)
	}
	if f.dirs.m == nil {
		f.dirs.m = map[string]string{}
	}
	f.dirs.m[key] = d
	return d
}

// SharedCard is a normal card (PINs AuthPIN/SignPIN) served into reader 0 for the
// whole test process, made on first use; tests using it must not change its PINs
// or tries. The pcscd's Stop ends it.
func (f *Fixture) SharedCard(t testing.TB) *Card {
	t.Helper()
	f.shared.Do(func() {
		dir, err := f.PC.NewCardDir("shared", "--auth-pin", AuthPIN, "--sign-pin", SignPIN)
		if err != nil {
			f.shared.err = err
			return
		}
		h, err := f.PC.StartCard(dir, 0)
		f.shared.card, f.shared.err = &Card{Dir: dir, Reader: 0, H: h}, err
	})
	if f.shared.err != nil {
		t.Fatal(f.shared.err)
	}
	return f.shared.card
}

// PullShared takes the shared card out of its reader until the test ends (then
// inserts it again and waits for it): for a test whose own card's tokens have
// the same labels (the shared card is made first if no test made it yet).
func (f *Fixture) PullShared(t testing.TB) {
	t.Helper()
	shared := f.SharedCard(t)
	if err := shared.H.Pull(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := shared.H.Insert(); err != nil {
			t.Errorf("re-insert the shared card: %v", err)
		}
		if err := f.PC.WaitCard(shared.Reader, true, 10*time.Second); err != nil {
			t.Errorf("the shared card is not back: %v", err)
		}
	})
	if err := f.PC.WaitCard(shared.Reader, false, 10*time.Second); err != nil {
		t.Fatal(err)
	}
}

// Main is the body of TestMain: it builds the module and the virtual card, starts
// the private pcscd (harness.Main), runs the tests and stops everything. It
// returns the exit code.
func Main(m *testing.M, f *Fixture) int {
	// The programs load a copy: a concurrent `make` rewriting build/jpki-pkcs11.so
	// must not change (or truncate) the module under a running test.
	dir, err := os.MkdirTemp("", "jpki-module-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	return harness.Main(m, "clienttest", func(pc *harness.PCSC) error {
		root, err := harness.RepoRoot()
		if err != nil {
			return err
		}
		f.Root = root
		if f.Built, err = harness.Module(); err != nil {
			return err
		}
		if f.Module, err = copyFile(f.Built, filepath.Join(dir, "jpki-pkcs11.so")); err != nil {
			return err
		}
		if _, err := harness.VcardBinary(); err != nil {
			return err
		}
		f.PC = pc
		return nil
	})
}

// copyFile copies src to dst (mode 0755) and returns dst.
func copyFile(src, dst string) (string, error) {
	b, err := os.ReadFile(src)
	if err != nil {
		return "", err
	}
	return dst, os.WriteFile(dst, b, 0o755)
}

// Card is a virtual card served into a reader for one test.
type Card struct {
	Dir    string // card directory: auth.der, sign.der, authca.der, signca.der, state.json
	Reader int
	H      *harness.Card
}

// StartCard makes a card (`jpki-vcard new` with the PINs AuthPIN/SignPIN and the
// extra flags newArgs) and serves it into reader i until the test ends; the cleanup
// waits until the reader is empty again.
func (f *Fixture) StartCard(t testing.TB, i int, newArgs ...string) *Card {
	t.Helper()
	name := fmt.Sprintf("%s-%d", strings.ReplaceAll(t.Name(), "/", "_"), time.Now().UnixNano())
	args := append([]string{"--auth-pin", AuthPIN, "--sign-pin", SignPIN}, newArgs...)
	dir, err := f.PC.NewCardDir(name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return f.ServeCard(t, dir, i)
}

// ServeCard serves the card in dir into reader i until the test ends.
func (f *Fixture) ServeCard(t testing.TB, dir string, i int) *Card {
	t.Helper()
	h, err := f.PC.StartCard(dir, i)
	if err != nil {
		if h != nil {
			h.Stop()
		}
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("card %d APDU log (tail):\n%s", i, tail(h.Log(), 30))
		}
		h.Stop()
		if err := f.PC.WaitCard(i, false, 10*time.Second); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return &Card{Dir: dir, Reader: i, H: h}
}

// PEM converts the card file name ("auth.der", "sign.der", "authca.der",
// "signca.der") into a PEM certificate in a temporary directory and returns its path.
func (c *Card) PEM(t testing.TB, name string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), strings.TrimSuffix(name, ".der")+".pem")
	MustRun(t, nil, "openssl", "x509", "-inform", "der", "-in", filepath.Join(c.Dir, name), "-out", out)
	return out
}

// PubKey writes the public key of the card certificate name as PEM and returns its path.
func (c *Card) PubKey(t testing.TB, name string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), strings.TrimSuffix(name, ".der")+".pub")
	MustRun(t, nil, "openssl", "x509", "-inform", "der", "-in", filepath.Join(c.Dir, name), "-pubkey", "-noout", "-out", out)
	return out
}

// Subject is the one-line subject of the card certificate name (openssl's RFC 2253 form).
func (c *Card) Subject(t testing.TB, name string) string {
	t.Helper()
	out := MustRun(t, nil, "openssl", "x509", "-inform", "der", "-in", filepath.Join(c.Dir, name), "-noout", "-subject", "-nameopt", "RFC2253")
	return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(out), "subject="))
}

// Env returns the environment for a program that loads the module in this test:
// the process environment (with the private pcscd's PCSCLITE_CSOCK_NAME) plus
// JPKI_PKCS11_DEBUG pointing at a log file in the test's temporary directory, whose
// tail is printed if the test fails. extra entries ("K=V") are appended.
func Env(t testing.TB, extra ...string) []string {
	t.Helper()
	log := filepath.Join(t.TempDir(), "module-debug.log")
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(log)
			t.Logf("module debug log (tail):\n%s", tail(string(b), 40))
		}
	})
	env := append(os.Environ(), "JPKI_PKCS11_DEBUG="+log)
	return append(env, extra...)
}

// DefaultTimeout bounds every program a test runs.
const DefaultTimeout = 90 * time.Second

// Cmd prepares name args with env (nil: the process environment) in a session of
// its own (no controlling terminal: a program that prompts for a PIN reads stdin);
// the process is killed (with its group) when ctx ends.
func Cmd(ctx context.Context, env []string, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // no controlling terminal: prompts read stdin
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// Run runs name args (env nil: the process environment) with DefaultTimeout and
// returns its combined output and error. stdin, if given, is fed to the program.
func Run(t testing.TB, env []string, name string, args ...string) (string, error) {
	t.Helper()
	return RunIn(t, "", nil, env, name, args...)
}

// RunIn is Run with a working directory and stdin.
func RunIn(t testing.TB, dir string, stdin []byte, env []string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), DefaultTimeout)
	defer cancel()
	cmd := Cmd(ctx, env, name, args...)
	cmd.Dir = dir
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		err = fmt.Errorf("%s timed out after %v: %w", name, DefaultTimeout, ctx.Err())
	}
	return string(out), err
}

// MustRun is Run that fails the test (with the output) when the program fails.
func MustRun(t testing.TB, env []string, name string, args ...string) string {
	t.Helper()
	out, err := Run(t, env, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// Contains fails the test unless out contains every string in want.
func Contains(t testing.TB, what, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Fatalf("%s: output lacks %q:\n%s", what, w, out)
		}
	}
}

// WriteFile writes data to name in dir and returns the path.
func WriteFile(t testing.TB, dir, name string, data []byte, perm os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, perm); err != nil {
		t.Fatal(err)
	}
	return p
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// DebugLog is the module debug log named in env (see Env); "" if none.
func DebugLog(env []string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], "JPKI_PKCS11_DEBUG="); ok {
			return v
		}
	}
	return ""
}

var signInit = regexp.MustCompile(`msg=C_SignInit .*mechanism=(\d+) .*rv=CKR_OK`)

// SignMechanisms lists the mechanisms (CKM_ values) of the successful C_SignInit
// calls in the module debug log named in env: the evidence of how a client signed.
func SignMechanisms(t testing.TB, env []string) []int {
	t.Helper()
	b, err := os.ReadFile(DebugLog(env))
	if err != nil {
		t.Fatalf("module debug log: %v", err)
	}
	var mechs []int
	for _, m := range signInit.FindAllStringSubmatch(string(b), -1) {
		n, _ := strconv.Atoi(m[1])
		mechs = append(mechs, n)
	}
	return mechs
}

// CKM values used by the tests.
const (
	CKM_RSA_PKCS        = 0x01
	CKM_RSA_PKCS_PSS    = 0x0D
	CKM_SHA256_RSA_PKCS = 0x40
	CKM_ECDSA           = 0x1041
	CKM_ECDSA_SHA256    = 0x1044
	CKM_ECDSA_SHA384    = 0x1045
)

// LogCount counts the lines of the module debug log named in env matching re.
func LogCount(t testing.TB, env []string, re string) int {
	t.Helper()
	b, err := os.ReadFile(DebugLog(env))
	if err != nil {
		t.Fatalf("module debug log: %v", err)
	}
	return len(regexp.MustCompile("(?m)"+re).FindAllIndex(b, -1))
}
