package harness

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
)

// RepoRoot finds the repository root (the directory with go.mod) above the
// working directory.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("harness: no go.mod above the working directory")
		}
		dir = parent
	}
}

// once caches one build per process.
type once struct {
	sync.Once
	path string
	err  error
}

func (o *once) get(target string) (string, error) {
	o.Do(func() { o.path, o.err = Build(target) })
	return o.path, o.err
}

var vcardOnce, moduleOnce once

// VcardBinary returns build/jpki-vcard, running `make build/jpki-vcard` once per
// process (it rebuilds only when sources changed). Concurrent test processes
// serialise on a lock file.
func VcardBinary() (string, error) { return vcardOnce.get("build/jpki-vcard") }

// Module returns build/jpki-pkcs11.so, running `make build/jpki-pkcs11.so` once
// per process under the build lock (see Make). Test processes must not load it
// themselves: they hand the path to the programs they start.
func Module() (string, error) { return moduleOnce.get("build/jpki-pkcs11.so") }

// Build runs `make target` in the repository root under the build lock (see
// Make) and returns the target's absolute path, checking that it exists.
func Build(target string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	if out, err := Make(target); err != nil {
		return "", fmt.Errorf("harness: make %s: %w: %s", target, err, out)
	}
	path := filepath.Join(root, target)
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("harness: %s missing after make: %w", target, err)
	}
	return path, nil
}

// Make runs make with args in the repository root and returns its combined
// output. It holds an exclusive lock on build/.harness.lock meanwhile, so test
// packages running in parallel never run make at the same time.
func Make(args ...string) (string, error) {
	root, err := RepoRoot()
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
	cmd := exec.Command("make", args...)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	return string(out), err
}
