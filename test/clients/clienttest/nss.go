package clienttest

import (
	"os"
	"path/filepath"
	"testing"
)

// NSSDB makes a fresh NSS database (empty password) in a temporary directory with
// the module added by modutil, as a user would, and returns its "sql:" path.
// extra are more modutil -add arguments (e.g. -string "tokens=auth").
func (f *Fixture) NSSDB(t testing.TB, env []string, extra ...string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "nssdb")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	db := "sql:" + dir
	MustRun(t, env, "certutil", "-N", "-d", db, "--empty-password")
	args := append([]string{"-dbdir", db, "-add", "JPKI", "-libfile", f.Module, "-force"}, extra...)
	MustRun(t, env, "modutil", args...)
	// modutil -list exits non-zero for the empty slots of reader 1: read its output
	out, _ := Run(t, env, "modutil", "-dbdir", db, "-list", "JPKI", "-force")
	Contains(t, "modutil -list", out, "Library file: "+f.Module)
	return db
}

// APDUsSince counts the APDUs matching pattern in the pcscd log since mark
// (f.PC.Mark()).
func (f *Fixture) APDUsSince(t testing.TB, mark int64, pattern string) int {
	t.Helper()
	n, err := f.PC.CountAPDUs(mark, pattern)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
