// Package cabi tests the C ABI of the built module (build/jpki-pkcs11.so) from
// outside: a C program (testdata/cabi.c) loads it with dlopen and calls every C_* with bad
// arguments, in the wrong order, across fork() and from many threads, and checks each
// CKR; the exported symbols are checked to be exactly the C_* functions. The module
// is never loaded into this Go process: the C program runs as a child.
package cabi

import (
	"bytes"
	"fmt"
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

// noService points the PC/SC client library at a socket that does not exist, so
// the module sees no PC/SC service and the system pcscd is never touched.
const noService = "PCSCLITE_CSOCK_NAME=/nonexistent/jpki-cabi/pcscd.comm"

// pc is this test process's private pcscd, with a virtual card (auth PIN 1234) in
// reader 0. The PC/SC client library reads PCSCLITE_CSOCK_NAME once per process, so
// there is one pcscd for all tests; the no-service runs override the variable.
var pc *harness.PCSC

func TestMain(m *testing.M) {
	os.Exit(harness.Main(m, "cabi", func(p *harness.PCSC) error {
		dir, err := p.NewCardDir("card", "--auth-pin", "1234", "--sign-pin", "ABC123")
		if err == nil {
			_, err = p.StartCard(dir, 0)
		}
		if err != nil {
			return fmt.Errorf("cannot serve the virtual card: %w", err)
		}
		pc = p
		return nil
	}))
}

// root returns the repository root.
func root(t *testing.T) string {
	t.Helper()
	r, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// makeModule runs `make build/jpki-pkcs11.so` (serialised with other test processes
// by the harness's lock file) and returns its path.
func makeModule(t *testing.T) string {
	t.Helper()
	mod, err := harness.Build("build/jpki-pkcs11.so")
	if err != nil {
		t.Fatal(err)
	}
	return mod
}

// compile builds testdata/cabi.c into dir with extra gcc flags.
func compile(t *testing.T, dir string, flags ...string) string {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Fatalf("gcc not installed (make deps): %v", err)
	}
	bin := filepath.Join(dir, "cabi")
	args := append([]string{"-std=gnu99", "-Wall", "-Wextra", "-Werror", "-g",
		"-I", filepath.Join(root(t), "include")}, flags...)
	args = append(args, filepath.Join("testdata", "cabi.c"), "-o", bin, "-ldl", "-lpthread")
	if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
		t.Fatalf("gcc cabi.c: %v\n%s", err, out)
	}
	return bin
}

// run runs the C program and requires "ok N checks" with exit status 0.
func run(t *testing.T, env []string, bin string, args ...string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil || !regexp.MustCompile(`(?m)^ok \d+ checks$`).Match(out.Bytes()) {
			t.Fatalf("cabi %s: %v\n%s", strings.Join(args, " "), err, out.String())
		}
		t.Logf("%s", bytes.TrimSpace(out.Bytes()))
	case <-time.After(3 * time.Minute):
		cmd.Process.Kill()
		t.Fatalf("cabi %s: hung (watchdog)\n%s", strings.Join(args, " "), out.String())
	}
}

// TestCABI runs the C ABI checks against the module with no PC/SC service.
func TestCABI(t *testing.T) {
	mod := makeModule(t)
	bin := compile(t, t.TempDir())
	run(t, append(os.Environ(), noService), bin, mod)
}

// TestCABIWithToken runs the same checks plus the session-level ones against a
// virtual card in the private pcscd, on its authentication token (right PIN only).
func TestCABIWithToken(t *testing.T) {
	runWithToken(t, makeModule(t), compile(t, t.TempDir()), nil)
}

// TestCABIWithTokensAuth runs the checks on a token against the authentication
// token shown alone (tokens=auth, docs/ONE-PIN.md): there it is login-required,
// its private key private, and every check of the default layout holds.
func TestCABIWithTokensAuth(t *testing.T) {
	runWithToken(t, makeModule(t), compile(t, t.TempDir()), []string{"JPKI_PKCS11_TOKENS=auth"})
}

// TestCABIAuthEntry runs every check against build/jpki-pkcs11-auth.so, the
// authentication-only entry point (module/authentry): its own C code reads the
// caller's C_Initialize arguments and hands out the function lists, so the bad
// pReserved cases, the interface lists and the checks on a token hold there too.
func TestCABIAuthEntry(t *testing.T) {
	mod, err := harness.Build("build/jpki-pkcs11-auth.so")
	if err != nil {
		t.Fatal(err)
	}
	makeModule(t) // the entry point loads it from its own folder
	bin := compile(t, t.TempDir())
	run(t, append(os.Environ(), noService), bin, mod)
	runWithToken(t, mod, bin, nil)
}

// runWithToken runs bin against mod with the virtual card of the private pcscd.
func runWithToken(t *testing.T, mod, bin string, env []string) {
	t.Helper()
	run(t, append(pc.Env(), env...), bin, mod, "--token", "1234")
}

// TestCABIAddressSanitizer builds the module and the C program with AddressSanitizer
// (go build -asan instruments the C shim and the Go code) and runs the checks: any
// read or write past a caller's buffer fails the test. Valgrind is not used: a Go
// runtime gives it hundreds of false reports (its own stacks and signal handling).
func TestCABIAddressSanitizer(t *testing.T) {
	dir := t.TempDir()
	mod := filepath.Join(dir, "jpki-pkcs11-asan.so")
	build := exec.Command("go", "build", "-asan", "-buildmode=c-shared", "-o", mod, "./module")
	build.Dir = root(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build -asan: %v\n%s", err, out)
	}
	bin := compile(t, dir, "-fsanitize=address")
	asan := "ASAN_OPTIONS=detect_leaks=0"
	run(t, append(os.Environ(), noService, asan), bin, mod)
	runWithToken(t, mod, bin, []string{asan})
}

// TestExports checks that the library exports exactly the C_* functions of
// PKCS#11 2.40 and 3.0 (as listed in include/pkcs11f.h) and nothing else.
func TestExports(t *testing.T) {
	mod := makeModule(t)
	out, err := exec.Command("nm", "-D", "--defined-only", mod).Output()
	if err != nil {
		t.Fatalf("nm -D: %v", err)
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 {
			got = append(got, f[2])
		} else {
			t.Errorf("unexpected nm line %q", line)
		}
	}
	slices.Sort(got)
	want := headerFunctions(t)
	if len(want) != 92 {
		t.Fatalf("include/pkcs11f.h lists %d functions, want 68 (2.40) + 24 (3.0)", len(want))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("exported symbols differ from the C_* functions:\n%s", diff(got, want))
	}
}

// headerFunctions lists the function names of include/pkcs11f.h, sorted.
func headerFunctions(t *testing.T) []string {
	t.Helper()
	h, err := os.ReadFile(filepath.Join(root(t), "include", "pkcs11f.h"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range regexp.MustCompile(`X\((C_\w+),`).FindAllStringSubmatch(string(h), -1) {
		names = append(names, m[1])
	}
	slices.Sort(names)
	return slices.Compact(names)
}

func diff(got, want []string) string {
	var b strings.Builder
	for _, s := range got {
		if !slices.Contains(want, s) {
			fmt.Fprintf(&b, "  unexpected export %s\n", s)
		}
	}
	for _, s := range want {
		if !slices.Contains(got, s) {
			fmt.Fprintf(&b, "  missing export %s\n", s)
		}
	}
	return b.String()
}
