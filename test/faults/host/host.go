// Package host runs the scriptable PKCS#11 host (test/faults/driver/p11script.c)
// for the fault and stress tests: a C program that loads build/jpki-pkcs11.so with
// dlopen and runs commands sent on its stdin, one reply line per command. Our Go
// module is never loaded into a Go test process; the test drives the host, the
// private pcscd and the virtual cards from outside.
package host

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jpki-pkcs11/jpki-pkcs11/ck"
	"github.com/jpki-pkcs11/jpki-pkcs11/test/harness"
)

// Module builds build/jpki-pkcs11.so with make, once per test process, under the
// harness's build lock (shared with other test packages), and returns its path.
func Module() (string, error) { return harness.Module() }

// Driver compiles the host program into dir and returns its path.
func Driver(dir string) (string, error) {
	root, err := harness.RepoRoot()
	if err != nil {
		return "", err
	}
	if _, err := exec.LookPath("gcc"); err != nil {
		return "", fmt.Errorf("gcc not installed (make deps): %w", err)
	}
	bin := filepath.Join(dir, "p11script")
	out, err := exec.Command("gcc", "-std=gnu99", "-O1", "-g", "-Wall", "-Wextra", "-Werror",
		"-I", filepath.Join(root, "include"), filepath.Join(root, "test", "faults", "driver", "p11script.c"),
		"-o", bin, "-ldl", "-lpthread").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("gcc p11script.c: %w: %s", err, out)
	}
	return bin, nil
}

// Reply is the final line of one command: its CK_RV and the fields after it.
// Data holds the command's data lines ("ID + FIELDS..."), split into fields.
type Reply struct {
	ID     string
	RV     ck.RV
	Fields []string
	Data   [][]string
}

// Field returns field i of the reply ("" when absent).
func (r Reply) Field(i int) string {
	if i < len(r.Fields) {
		return r.Fields[i]
	}
	return ""
}

// Uint returns field i as a number (0 when absent or not a number).
func (r Reply) Uint(i int) uint64 {
	n, _ := strconv.ParseUint(r.Field(i), 0, 64)
	return n
}

// Host is one running host process.
type Host struct {
	t        testing.TB
	cmd      *exec.Cmd
	stdin    io.WriteCloser
	DebugLog string // the module's debug log (JPKI_PKCS11_DEBUG)

	mu      sync.Mutex
	next    int
	waiting map[string]chan Reply
	data    map[string][][]string
	other   []string // lines that answer no command (atexit reports, FAIL ...)
	exited  chan struct{}
	exitErr error
}

// Start builds the module and the host program and starts the host with env (the
// private pcscd's environment); the module's debug log goes to a file under
// t.TempDir(). The host is killed at the end of the test.
func Start(t testing.TB, env []string) *Host {
	t.Helper()
	mod, err := Module()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin, err := Driver(dir)
	if err != nil {
		t.Fatal(err)
	}
	h := &Host{t: t, DebugLog: filepath.Join(dir, "module-debug.log"),
		waiting: map[string]chan Reply{}, data: map[string][][]string{}, exited: make(chan struct{})}
	h.cmd = exec.Command(bin, mod)
	h.cmd.Env = append(env, "JPKI_PKCS11_DEBUG="+h.DebugLog)
	h.cmd.Stderr = os.Stderr
	h.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if h.stdin, err = h.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := h.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan string, 1)
	go h.read(stdout, ready)
	go func() {
		err := h.cmd.Wait()
		h.mu.Lock()
		h.exitErr = err
		h.mu.Unlock()
		close(h.exited)
	}()
	t.Cleanup(h.Kill)
	select {
	case line := <-ready:
		if line != "ready" {
			t.Fatalf("host: %s", line)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("host: no ready line in 20 s")
	}
	return h
}

// read dispatches the host's output lines.
func (h *Host) read(r io.Reader, ready chan<- string) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), 1<<22)
	first := true
	for sc.Scan() {
		line := sc.Text()
		if first {
			first = false
			ready <- line
			continue
		}
		f := strings.Fields(line)
		h.mu.Lock()
		switch {
		case len(f) >= 2 && f[1] == "+":
			h.data[f[0]] = append(h.data[f[0]], f[2:])
		case len(f) >= 2 && h.waiting[f[0]] != nil && strings.HasPrefix(f[1], "0x"):
			rv, _ := strconv.ParseUint(f[1], 0, 64)
			ch := h.waiting[f[0]]
			delete(h.waiting, f[0])
			rep := Reply{ID: f[0], RV: ck.RV(rv), Fields: f[2:], Data: h.data[f[0]]}
			delete(h.data, f[0])
			ch <- rep
		default:
			h.other = append(h.other, line)
		}
		h.mu.Unlock()
	}
}

// Pending is a command running on its own thread in the host.
type Pending struct {
	h    *Host
	id   string
	what string
	ch   chan Reply
}

// send writes one command line; async runs it on a new host thread.
func (h *Host) send(async bool, args ...any) *Pending {
	h.t.Helper()
	h.mu.Lock()
	h.next++
	id := strconv.Itoa(h.next)
	ch := make(chan Reply, 1)
	h.waiting[id] = ch
	h.mu.Unlock()
	parts := make([]string, len(args))
	for i, a := range args {
		parts[i] = fmt.Sprint(a)
	}
	what := strings.Join(parts, " ")
	prefix := ""
	if async {
		prefix = "&"
	}
	if _, err := fmt.Fprintf(h.stdin, "%s%s %s\n", prefix, id, what); err != nil {
		h.t.Fatalf("host: send %q: %v (host exited: %v)", what, err, h.ExitErr())
	}
	return &Pending{h: h, id: id, what: what, ch: ch}
}

// Async starts a command on its own host thread.
func (h *Host) Async(args ...any) *Pending {
	h.t.Helper()
	return h.send(true, args...)
}

// Call runs a command and waits for its reply; a reply that does not come within
// timeout is a hang: the test fails with the host's thread stacks.
func (h *Host) Call(timeout time.Duration, args ...any) Reply {
	h.t.Helper()
	return h.send(false, args...).Wait(timeout)
}

// Wait waits for the reply (a hang fails the test, see Call).
func (p *Pending) Wait(timeout time.Duration) Reply {
	p.h.t.Helper()
	r, ok := p.TryWait(timeout)
	if !ok {
		p.h.t.Fatalf("host: %q: no answer in %v (hang)\n%s", p.what, timeout, p.h.Diagnose())
	}
	return r
}

// TryWait waits for the reply up to timeout; ok is false when it did not come
// (the host died or hangs).
func (p *Pending) TryWait(timeout time.Duration) (Reply, bool) {
	select {
	case r := <-p.ch:
		return r, true
	case <-p.h.exited:
		select {
		case r := <-p.ch:
			return r, true
		default:
		}
		return Reply{}, false
	case <-time.After(timeout):
		return Reply{}, false
	}
}

// Exit closes the host's stdin (the host returns from main) and waits up to
// timeout for it to end; it returns the exit error (nil for status 0) and whether
// it ended in time.
func (h *Host) Exit(timeout time.Duration) (error, bool) {
	_ = h.stdin.Close()
	return h.WaitExit(timeout)
}

// WaitExit waits up to timeout for the host to end.
func (h *Host) WaitExit(timeout time.Duration) (error, bool) {
	select {
	case <-h.exited:
		return h.ExitErr(), true
	case <-time.After(timeout):
		return nil, false
	}
}

// ExitErr is the host's exit error once it has ended.
func (h *Host) ExitErr() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.exitErr
}

// Other returns the lines that answered no command (atexit reports ...).
func (h *Host) Other() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.other...)
}

// Pid is the host's process id.
func (h *Host) Pid() int { return h.cmd.Process.Pid }

// Diagnose returns the host's thread stacks (gdb, when installed) and the tail of
// the module's debug log.
func (h *Host) Diagnose() string {
	var b strings.Builder
	select {
	case <-h.exited:
		fmt.Fprintf(&b, "host exited: %v\n", h.ExitErr())
	default:
		if _, err := exec.LookPath("gdb"); err == nil {
			out, _ := exec.Command("gdb", "-p", strconv.Itoa(h.Pid()), "-batch", "-nx",
				"-ex", "thread apply all bt 12").CombinedOutput()
			fmt.Fprintf(&b, "host threads:\n%s\n", tail(string(out), 120))
		}
	}
	if log, err := os.ReadFile(h.DebugLog); err == nil {
		fmt.Fprintf(&b, "module debug log (tail):\n%s\n", tail(string(log), 40))
	}
	return b.String()
}

// DebugTail returns the last n lines of the module's debug log.
func (h *Host) DebugTail(n int) string {
	log, _ := os.ReadFile(h.DebugLog)
	return tail(string(log), n)
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Kill ends the host if it still runs.
func (h *Host) Kill() {
	select {
	case <-h.exited:
		return
	default:
	}
	_ = h.cmd.Process.Kill()
	select {
	case <-h.exited:
	case <-time.After(5 * time.Second):
	}
}

// Expect fails the test unless r.RV is one of want.
func Expect(t testing.TB, what string, r Reply, want ...ck.RV) {
	t.Helper()
	for _, w := range want {
		if r.RV == w {
			return
		}
	}
	t.Fatalf("%s: got %v %v, want one of %v", what, r.RV, r.Fields, want)
}
