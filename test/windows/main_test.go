// Package windowstest checks build/jpki-pkcs11.dll under Wine against a virtual My
// Number Card served through a private pcscd (test/harness): a Windows test host
// (host/host.c built with mingw-w64) and the same host built for Linux against
// build/jpki-pkcs11.so must print the same PKCS#11 structures field by field, and
// both hosts' signatures must verify with openssl. See docs/WINDOWS.md.
//
// Wine 8.0 on Debian 12 needs two stand-ins, built by `make windows-tools`:
// bcryptprimitives.dll (ProcessPrng, needed by the Go runtime) and a winscard.dll that
// forwards PC/SC to pcsc-lite through a Wine Unix library (bridge/).
//
// Without Wine or mingw-w64 the tests skip, saying why, unless JPKI_TEST_WINDOWS=1
// (set by `make test-windows` and CI), which turns a missing tool into a failure.
package windowstest

import (
	"context"
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

// env is what the tests share: the private pcscd, the repository's build outputs and
// one Wine prefix set up for the bridge.
var env struct {
	pc      *harness.PCSC
	root    string // repository root
	win     string // build/windows
	prefix  string // WINEPREFIX
	skipWhy string // non-empty: Wine is not usable here and not required
}

// tools the Windows tests need on the Linux side.
var tools = []string{"wine", "wineboot", "wineserver", "x86_64-w64-mingw32-gcc", "x86_64-w64-mingw32-objdump", "openssl", "pkg-config"}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	for _, t := range tools {
		if _, err := exec.LookPath(t); err != nil {
			why := fmt.Sprintf("%s not installed (sh scripts/deps-windows.sh)", t)
			if os.Getenv("JPKI_TEST_WINDOWS") == "1" {
				fmt.Fprintln(os.Stderr, "FAIL:", why)
				return 1
			}
			env.skipWhy = why
			return m.Run()
		}
	}
	root, err := harness.RepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	env.root, env.win = root, filepath.Join(root, "build", "windows")
	if err := build(); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	pc, err := harness.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: cannot start the private pcscd:", err)
		return 1
	}
	env.pc = pc
	prefix, err := newPrefix()
	if err != nil {
		pc.Stop(false)
		fmt.Fprintln(os.Stderr, "FAIL: Wine prefix:", err)
		return 1
	}
	env.prefix = prefix
	code := m.Run()
	stopPrefix(prefix)
	pc.Stop(code != 0 && os.Getenv("KEEP_HARNESS") != "")
	return code
}

// need skips the test when Wine is missing and not required.
func need(t *testing.T) {
	t.Helper()
	if env.skipWhy != "" {
		t.Skip("Windows tests not run: " + env.skipWhy)
	}
}

// build makes the DLL, the .so, the virtual card and the Wine test tools, holding the
// harness's build lock so that parallel test packages do not run make at once.
func build() error {
	out, err := harness.Make("windows", "windows-tools", "build/jpki-pkcs11.so", "build/jpki-vcard")
	if err != nil {
		return fmt.Errorf("make windows windows-tools: %w\n%s", err, out)
	}
	return nil
}

// wineEnv is the environment of every Wine process: our prefix, no debug noise, the
// bridge's builtin jpkiscard.dll found through WINEDLLPATH, the native winscard.dll
// preferred to Wine's stub, and the private pcscd's socket (inherited from harness).
func wineEnv(extra ...string) []string {
	e := append(os.Environ(),
		"WINEPREFIX="+env.prefix,
		"WINEDEBUG=-all",
		"WINEDLLPATH="+filepath.Join(env.win, "dlls"),
		"WINEDLLOVERRIDES=winscard=n;mscoree,mshtml=",
		"DISPLAY=",
	)
	return append(e, extra...)
}

// newPrefix creates a Wine prefix in a temporary directory and installs the two
// stand-in DLLs in its system32.
func newPrefix() (string, error) {
	dir, err := os.MkdirTemp("", "jpki-wine-")
	if err != nil {
		return "", err
	}
	env.prefix = dir
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "wineboot", "-i")
	cmd.Env = wineEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		stopPrefix(dir)
		return "", fmt.Errorf("wineboot: %w\n%s", err, out)
	}
	sys32 := filepath.Join(dir, "drive_c", "windows", "system32")
	for _, name := range []string{"winscard.dll", "bcryptprimitives.dll"} {
		b, err := os.ReadFile(filepath.Join(env.win, "system32", name))
		if err == nil {
			err = os.WriteFile(filepath.Join(sys32, name), b, 0o644)
		}
		if err != nil {
			stopPrefix(dir)
			return "", fmt.Errorf("install %s: %w", name, err)
		}
	}
	return dir, nil
}

// stopPrefix ends this prefix's wineserver (and only it) and removes the prefix and
// the server's socket directory, /tmp/wine-XXXXXX/server-<dev>-<inode> of the prefix.
func stopPrefix(dir string) {
	cmd := exec.Command("wineserver", "-k")
	cmd.Env = append(os.Environ(), "WINEPREFIX="+dir)
	_ = cmd.Run()
	var st syscall.Stat_t
	if syscall.Stat(dir, &st) == nil {
		name := fmt.Sprintf("server-%x-%x", uint64(st.Dev), st.Ino)
		for _, pattern := range []string{"/tmp/wine-*/" + name, fmt.Sprintf("/tmp/.wine-%d/%s", os.Getuid(), name)} {
			found, _ := filepath.Glob(pattern)
			for _, f := range found {
				os.RemoveAll(f)
				os.Remove(filepath.Dir(f)) // only when empty
			}
		}
	}
	os.RemoveAll(dir)
}

// winPath is the Windows name of a Unix path (Wine's Z: drive is the Unix root).
func winPath(p string) string { return "Z:" + strings.ReplaceAll(p, "/", `\`) }

// wine runs a Windows program with a time limit and returns its combined output.
func wine(t *testing.T, timeout time.Duration, extraEnv []string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "wine", args...)
	cmd.Env = wineEnv(extraEnv...)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return string(out), fmt.Errorf("wine %s: timed out after %v", filepath.Base(args[0]), timeout)
	}
	return string(out), err
}

// startCard serves a copy of the card in dir into reader 0 for the test's duration.
func startCard(t *testing.T, dir string) *harness.Card {
	t.Helper()
	c, err := env.pc.StartCard(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopCard(t, c) })
	return c
}

func stopCard(t *testing.T, c *harness.Card) {
	c.Stop()
	if err := env.pc.WaitCard(0, false, 10*time.Second); err != nil {
		t.Errorf("card removal: %v", err)
	}
}
