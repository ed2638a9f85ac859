package nssdb

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

func write(t *testing.T, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestFind: profiles from the classic, XDG, snap and flatpak profiles.ini of
// Firefox and Thunderbird (relative and absolute paths), a profile whose folder is
// gone skipped, one listed twice kept once, and ~/.pki/nssdb always last.
func TestFind(t *testing.T) {
	home := t.TempDir()
	abs := filepath.Join(home, "elsewhere")
	os.MkdirAll(abs, 0o755)
	for _, d := range []string{".mozilla/firefox/a.default", "snap/firefox/common/.mozilla/firefox/s.snap",
		".var/app/org.mozilla.firefox/.mozilla/firefox/f.flat", ".thunderbird/m.mail"} {
		os.MkdirAll(filepath.Join(home, d), 0o755)
	}
	write(t, filepath.Join(home, ".mozilla/firefox/profiles.ini"),
		"[General]\nStartWithLastProfile=1\n\n[Profile0]\nName=default\nIsRelative=1\nPath=a.default\n\n[Profile1]\nName=gone\nIsRelative=1\nPath=missing\n\n[Install4F96D1932A9F858E]\nDefault=a.default\n")
	write(t, filepath.Join(home, ".config/mozilla/firefox/profiles.ini"),
		"[Profile0]\nName=xdg\nIsRelative=0\nPath="+abs+"\n[Profile1]\nName=again\nIsRelative=0\nPath="+filepath.Join(home, ".mozilla/firefox/a.default")+"\n")
	write(t, filepath.Join(home, "snap/firefox/common/.mozilla/firefox/profiles.ini"), "[Profile0]\nName=snap\nIsRelative=1\nPath=s.snap\n")
	write(t, filepath.Join(home, ".var/app/org.mozilla.firefox/.mozilla/firefox/profiles.ini"), "[Profile0]\nName=flat\nPath=f.flat\n")
	write(t, filepath.Join(home, ".thunderbird/profiles.ini"), "[Profile0]\nName=mail\nIsRelative=1\nPath=m.mail\n")
	got := Find(home, "")
	want := []struct {
		dir     string
		kind    Kind
		profile string
	}{
		{".mozilla/firefox/a.default", Firefox, "default"},
		{"snap/firefox/common/.mozilla/firefox/s.snap", Firefox, "snap"},
		{".var/app/org.mozilla.firefox/.mozilla/firefox/f.flat", Firefox, "flat"},
		{"elsewhere", Firefox, "xdg"},
		{".thunderbird/m.mail", Thunderbird, "mail"},
		{".pki/nssdb", Shared, ""},
	}
	if len(got) != len(want) {
		t.Fatalf("Find: %d databases, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		if got[i].Dir != filepath.Join(home, w.dir) || got[i].Kind != w.kind || got[i].Profile != w.profile {
			t.Errorf("database %d: %+v, want %s %s %q", i, got[i], w.dir, w.kind, w.profile)
		}
	}
}

// TestInUseLockLink: a profile whose lock link names a running process is in use;
// one naming a process that is gone (a crash) is not; the shared database never is.
func TestInUseLockLink(t *testing.T) {
	dir := t.TempDir()
	db := DB{Dir: dir, Kind: Firefox}
	if _, ok := InUse(db); ok {
		t.Fatal("a profile without lock is in use")
	}
	if err := os.Symlink("127.0.0.1:+"+itoa(os.Getpid()), filepath.Join(dir, "lock")); err != nil {
		t.Fatal(err)
	}
	if h, ok := InUse(db); !ok || h.PID != os.Getpid() || h.App != "Firefox" {
		t.Fatalf("InUse = %+v, %v; want Firefox (process %d)", h, ok, os.Getpid())
	}
	os.Remove(filepath.Join(dir, "lock"))
	os.Symlink("127.0.0.1:+2147483646", filepath.Join(dir, "lock"))
	if h, ok := InUse(db); ok {
		t.Fatalf("a stale lock link counts as in use: %+v", h)
	}
	if _, ok := InUse(DB{Dir: dir, Kind: Shared}); ok {
		t.Fatal("the shared database counts as in use")
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
