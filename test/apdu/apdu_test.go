// Package apdutest holds our module's APDU budget (issue 8): it runs pkcs11-tool
// and the benchmark's C driver (bench/p11drv.c) against build/jpki-pkcs11.so on a
// virtual My Number Card behind a private pcscd, counts the command APDUs of each
// job in pcscd's --apdu log, and fails when a job needs more than the goal
// (the minimum the card needs + 1). Counts are deterministic; nothing here is
// timed. The module is never loaded into this Go process: the jobs are children.
package apdutest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jpki-pkcs11/jpki-pkcs11/test/harness"
)

// Goals of issue 8 for our module: the minimum the card needs + 1.
const (
	maxList      = 15 // pkcs11-tool -L, one cold process
	maxColdSign  = 13 // pkcs11-tool --login --sign, one cold process
	maxWarmSign  = 2  // each further signature after login
	maxPollAfter = 0  // C_GetTokenInfo again, no card change
)

var (
	pc     *harness.PCSC
	card   *harness.Card
	module string // build/jpki-pkcs11.so
	drv    string // bench/p11drv.c, compiled for this run
)

func TestMain(m *testing.M) {
	os.Exit(harness.Main(m, "apdu", setup))
}

func setup(p *harness.PCSC) error {
	pc = p
	root, err := harness.RepoRoot()
	if err != nil {
		return err
	}
	if module, err = harness.Module(); err != nil {
		return err
	}
	drv = filepath.Join(pc.Dir, "p11drv")
	out, err := exec.Command("gcc", "-std=gnu99", "-O2", "-Wall", "-Wextra", "-Werror",
		"-I", filepath.Join(root, "include"), filepath.Join(root, "bench", "p11drv.c"),
		"-o", drv, "-ldl", "-lpthread").CombinedOutput()
	if err != nil {
		return fmt.Errorf("gcc bench/p11drv.c (make deps installs gcc): %w: %s", err, out)
	}
	dir, err := pc.NewCardDir("apdu")
	if err != nil {
		return err
	}
	card, err = pc.StartCard(dir, 0)
	return err
}

// run runs a job to its end and returns its output and the APDUs it sent.
func run(t *testing.T, name string, args ...string) (string, []string) {
	t.Helper()
	mark := pc.Mark()
	cmd := exec.Command(name, args...)
	cmd.Env = append(pc.Env(), "BENCH_APDU_LOG="+pc.LogPath, "BENCH_PIN=1234")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	apdus, err := pc.APDUs(mark)
	if err != nil {
		t.Fatal(err)
	}
	return string(out), apdus
}

// phase is one "phase NAME LOG0 LOG1 WALL CPU" line of p11drv with its APDUs.
type phase struct {
	name  string
	apdus []string
}

// driver runs p11drv on our module and splits the APDUs by phase.
func driver(t *testing.T, job ...string) []phase {
	t.Helper()
	out, _ := run(t, drv, append([]string{module}, job...)...)
	return phases(t, out)
}

func phases(t *testing.T, out string) []phase {
	t.Helper()
	if !strings.Contains(out, "\nok\n") {
		t.Fatalf("p11drv did not finish:\n%s", out)
	}
	var ps []phase
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) != 6 || f[0] != "phase" {
			continue
		}
		a, err1 := strconv.ParseInt(f[2], 10, 64)
		b, err2 := strconv.ParseInt(f[3], 10, 64)
		if err1 != nil || err2 != nil || a < 0 || b < a {
			t.Fatalf("p11drv: bad phase line %q", line)
		}
		within, err := apdusBetween(a, b)
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, phase{f[1], within})
	}
	return ps
}

// apdusBetween returns the command APDUs logged between two offsets of the log.
func apdusBetween(a, b int64) ([]string, error) {
	all, err := pc.APDUs(a)
	if err != nil {
		return nil, err
	}
	rest, err := pc.APDUs(b)
	if err != nil {
		return nil, err
	}
	return all[:len(all)-len(rest)], nil
}

func named(ps []phase, name string) []phase {
	var out []phase
	for _, p := range ps {
		if p.name == name {
			out = append(out, p)
		}
	}
	return out
}

func show(apdus []string) string {
	var b strings.Builder
	for _, a := range apdus {
		if f := strings.Fields(a); len(f) > 5 && f[1] != "A4" {
			a = strings.Join(f[:5], " ") + " ..." // no data (no PIN) in test output
		}
		fmt.Fprintf(&b, "\n  %s", a)
	}
	return b.String()
}

func TestListSlots(t *testing.T) {
	out, apdus := run(t, "pkcs11-tool", "--module", module, "-L")
	if n := strings.Count(out, "token label"); n != 2 {
		t.Fatalf("pkcs11-tool -L shows %d tokens, want 2:\n%s", n, out)
	}
	t.Logf("pkcs11-tool -L: %d APDUs", len(apdus))
	if len(apdus) > maxList {
		t.Fatalf("pkcs11-tool -L sent %d APDUs, goal %d:%s", len(apdus), maxList, show(apdus))
	}
	for _, a := range apdus {
		if f := strings.Fields(a); len(f) >= 4 && f[1] == "B0" && f[2] != "00" && f[2][0] < '8' {
			t.Fatalf("pkcs11-tool -L read a certificate beyond its head (%s): certificates are read only when an object is asked for:%s", a, show(apdus))
		}
	}
}

func TestColdLoginSign(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	sig := data + ".sig"
	if err := os.WriteFile(data, []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, apdus := run(t, "pkcs11-tool", "--module", module, "--login", "--pin", "1234",
		"--sign", "-m", "SHA256-RSA-PKCS", "-i", data, "-o", sig)
	if b, err := os.ReadFile(sig); err != nil || len(b) != 256 {
		t.Fatalf("signature: %d bytes, %v", len(b), err)
	}
	t.Logf("pkcs11-tool --login --sign: %d APDUs", len(apdus))
	if len(apdus) > maxColdSign {
		t.Fatalf("cold login + signature sent %d APDUs, goal %d:%s", len(apdus), maxColdSign, show(apdus))
	}
}

func TestWarmSignature(t *testing.T) {
	ps := driver(t, "sign", "5")
	warm := named(ps, "sign-warm")
	if len(warm) != 5 {
		t.Fatalf("%d warm signatures, want 5", len(warm))
	}
	for i, p := range warm {
		if len(p.apdus) == 0 || len(p.apdus) > maxWarmSign {
			t.Fatalf("warm signature %d sent %d APDUs, goal 1..%d:%s", i, len(p.apdus), maxWarmSign, show(p.apdus))
		}
	}
	t.Logf("warm signature: %d APDUs", len(warm[0].apdus))
}

func TestTokenInfoPolling(t *testing.T) {
	ps := driver(t, "poll", "5", "20")
	polls := named(ps, "poll")
	if len(polls) != 5 {
		t.Fatalf("%d polls, want 5", len(polls))
	}
	for i, p := range polls {
		if len(p.apdus) > maxPollAfter {
			t.Fatalf("C_GetTokenInfo poll %d sent %d APDUs with no card change, goal %d:%s", i+1, len(p.apdus), maxPollAfter, show(p.apdus))
		}
	}
}

// TestReinsertListsAgain: after the card is pulled and put back, listing reads
// the card again (a new insertion) and costs no more than a cold -L.
func TestReinsertListsAgain(t *testing.T) {
	cmd := exec.Command(drv, module, "reinsert")
	cmd.Env = append(pc.Env(), "BENCH_APDU_LOG="+pc.LogPath)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()
	var out strings.Builder
	sc := bufio.NewScanner(stdout)
	for sc.Scan() && sc.Text() != "READY" {
		out.WriteString(sc.Text() + "\n")
	}
	if sc.Text() != "READY" {
		t.Fatalf("p11drv reinsert: no READY:\n%s", out.String())
	}
	if err := card.Pull(); err != nil {
		t.Fatal(err)
	}
	if err := pc.WaitCard(0, false, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := card.Insert(); err != nil {
		t.Fatal(err)
	}
	if err := pc.WaitCard(0, true, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := in.Write([]byte("go\n")); err != nil {
		t.Fatal(err)
	}
	in.Close()
	for sc.Scan() {
		out.WriteString(sc.Text() + "\n")
	}
	killed = true
	if err := cmd.Wait(); err != nil {
		t.Fatalf("p11drv reinsert: %v\n%s", err, out.String())
	}
	re := named(phases(t, out.String()), "relist")
	if len(re) != 1 {
		t.Fatalf("no relist phase:\n%s", out.String())
	}
	n := len(re[0].apdus)
	t.Logf("list after re-insertion: %d APDUs", n)
	if n == 0 || n > maxList {
		t.Fatalf("list after re-insertion sent %d APDUs, want 1..%d (the new insertion must be identified):%s", n, maxList, show(re[0].apdus))
	}
}

// TestConcurrentSignatures: 8 threads x 20 signatures in their own sessions on
// one token (after one thread x 160) finish without an error or a crash, and cost
// exactly one APDU each: concurrency adds no SELECT and no lost login.
func TestConcurrentSignatures(t *testing.T) {
	out, _ := run(t, drv, module, "conc", "8", "20")
	if !strings.Contains(out, "errors conc-1 0\n") || !strings.Contains(out, "errors conc-t 0\n") {
		t.Fatalf("signatures failed:\n%s", out)
	}
	for _, name := range []string{"conc-1", "conc-t"} {
		ps := named(phases(t, out), name)
		if len(ps) != 1 {
			t.Fatalf("no %s phase:\n%s", name, out)
		}
		if n := len(ps[0].apdus); n != 160 {
			t.Errorf("%s: 160 signatures sent %d APDUs, want 160", name, n)
		}
	}
}

// TestStatusFromManyGoroutines: PC/SC status reads from many goroutines while
// another waits for a change (what a browser's threads do to the module) must
// not crash the process: ebfe/scard is not safe for concurrent GetStatusChange.
func TestStatusFromManyGoroutines(t *testing.T) {
	sys, err := pc.System()
	if err != nil {
		t.Fatal(err)
	}
	names := []string{harness.ReaderName(0), harness.ReaderName(1)}
	known, err := sys.Status(names)
	if err != nil || !known[0].Present {
		t.Fatalf("status %v %v", known, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	waited := make(chan error, 1)
	go func() { waited <- sys.Wait(ctx, known) }()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				st, err := sys.Status(names)
				if err != nil || len(st) != 2 || !st[0].Present {
					errs <- fmt.Errorf("status %v %v", st, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	cancel()
	if err := <-waited; !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait with no change: %v, want context.Canceled", err)
	}
}
