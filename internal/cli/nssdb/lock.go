package nssdb

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Holder is a running program that holds a profile.
type Holder struct {
	App string // "Firefox", "Thunderbird"
	PID int    // 0 when unknown
}

func (h Holder) String() string {
	if h.PID > 0 {
		return fmt.Sprintf("%s (process %d)", h.App, h.PID)
	}
	return h.App
}

// InUse tells whether a running Firefox or Thunderbird holds the profile db, the
// way they tell it themselves on Linux: the profile's .parentlock carries an fcntl
// write lock while the program runs, and its "lock" symbolic link names
// "HOST:+PID" (a link left by a crash names a process that no longer runs). The
// shared database is never held this way (NSS opens it shared).
func InUse(db DB) (Holder, bool) {
	if db.Kind == Shared {
		return Holder{}, false
	}
	if pid, ok := fcntlLocked(filepath.Join(db.Dir, ".parentlock")); ok {
		return Holder{App: db.App(), PID: pid}, true
	}
	if target, err := os.Readlink(filepath.Join(db.Dir, "lock")); err == nil {
		if i := strings.LastIndex(target, ":+"); i >= 0 {
			if pid, err := strconv.Atoi(target[i+2:]); err == nil && pid > 0 && alive(pid) {
				return Holder{App: db.App(), PID: pid}, true
			}
		}
	}
	return Holder{}, false
}

// fcntlLocked tells whether another process holds an fcntl lock on path, and
// which (F_GETLK tests without taking the lock).
func fcntlLocked(path string) (int, bool) {
	f, err := os.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: 0, Start: 0, Len: 0}
	if err := syscall.FcntlFlock(f.Fd(), syscall.F_GETLK, &lk); err != nil {
		return 0, false
	}
	if lk.Type == syscall.F_UNLCK {
		return 0, false
	}
	return int(lk.Pid), true
}

// alive tells whether a process pid exists.
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || err == syscall.EPERM
}
