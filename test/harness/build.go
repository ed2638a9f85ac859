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

var buildOnce struct {
	sync.Once
	path string
	err  error
}

// VcardBinary returns build/jpki-vcard, running `make build/jpki-vcard` once per
// process (it rebuilds only when sources changed). Concurrent test processes
// serialise on a lock file.
func VcardBinary() (string, error) {
	buildOnce.Do(func() { buildOnce.path, buildOnce.err = makeTarget("build/jpki-vcard") })
	return buildOnce.path, buildOnce.err
}

// makeTarget runs `make target` in the repository root under an exclusive lock.
func makeTarget(target string) (string, error) {
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
	cmd := exec.Command("make", target)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("harness: make %s: %w: %s", target, err, out)
	}
	path := filepath.Join(root, target)
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("harness: %s missing after make: %w", target, err)
	}
	return path, nil
}
