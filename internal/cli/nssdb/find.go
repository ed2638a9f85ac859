// Package nssdb finds a user's NSS databases (Firefox and Thunderbird profiles, the
// shared ~/.pki/nssdb), tells whether Firefox or Thunderbird holds one, and reads and
// changes them with NSS's own tools (modutil, certutil): never by writing database
// files itself. It is the ground under `jpki setup`.
package nssdb

import (
	"bufio"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Kind is what a database belongs to.
type Kind string

// The kinds of database.
const (
	Firefox     Kind = "firefox"
	Thunderbird Kind = "thunderbird"
	Shared      Kind = "shared" // ~/.pki/nssdb: Chromium, pdfsig, Okular, LibreOffice, NSS tools
)

// DB is one NSS database directory.
type DB struct {
	Dir     string `json:"path"`              // absolute directory (the profile folder)
	Kind    Kind   `json:"kind"`              // firefox, thunderbird, shared
	Profile string `json:"profile,omitempty"` // the profile's name in profiles.ini
	Ini     string `json:"profiles_ini,omitempty"`
}

// App is the program that opens db ("Firefox", "Thunderbird"; "" for the shared one).
func (db DB) App() string {
	switch db.Kind {
	case Firefox:
		return "Firefox"
	case Thunderbird:
		return "Thunderbird"
	}
	return ""
}

// Exists tells whether the directory holds an NSS sql database (cert9.db).
func (db DB) Exists() bool {
	_, err := os.Stat(filepath.Join(db.Dir, "cert9.db"))
	return err == nil
}

// profileRoots are the folders holding a profiles.ini, relative to HOME (and to
// XDG_CONFIG_HOME for the XDG ones), for each program: the classic dot folder,
// the XDG location newer releases use, the snap and the flatpak packages.
var profileRoots = []struct {
	kind Kind
	dirs []string // relative to HOME
	xdg  string   // relative to XDG_CONFIG_HOME
}{
	{Firefox, []string{
		".mozilla/firefox",
		"snap/firefox/common/.mozilla/firefox",
		".var/app/org.mozilla.firefox/.mozilla/firefox",
		".var/app/org.mozilla.firefox/config/mozilla/firefox",
	}, "mozilla/firefox"},
	{Thunderbird, []string{
		".thunderbird",
		"snap/thunderbird/common/.thunderbird",
		".var/app/org.mozilla.Thunderbird/.thunderbird",
		".var/app/org.mozilla.Thunderbird/config/thunderbird",
	}, "thunderbird"},
}

// Find lists the NSS databases of the user whose home is home: every profile of
// every profiles.ini (see profileRoots; xdgConfig is $XDG_CONFIG_HOME, "" for
// home/.config), then the shared database home/.pki/nssdb (listed even when it does
// not exist yet). A profile listed twice (a symbolic link, two ini files) is listed
// once.
func Find(home, xdgConfig string) []DB {
	if xdgConfig == "" {
		xdgConfig = filepath.Join(home, ".config")
	}
	var out []DB
	seen := map[string]bool{}
	for _, r := range profileRoots {
		dirs := make([]string, 0, len(r.dirs)+1)
		for _, d := range r.dirs {
			dirs = append(dirs, filepath.Join(home, d))
		}
		dirs = append(dirs, filepath.Join(xdgConfig, r.xdg))
		for _, d := range dirs {
			ini := filepath.Join(d, "profiles.ini")
			for _, p := range readProfiles(ini) {
				key := p.Dir
				if real, err := filepath.EvalSymlinks(p.Dir); err == nil {
					key = real
				}
				if seen[key] {
					continue
				}
				seen[key] = true
				out = append(out, DB{Dir: p.Dir, Kind: r.kind, Profile: p.Profile, Ini: ini})
			}
		}
	}
	out = append(out, DB{Dir: filepath.Join(home, ".pki", "nssdb"), Kind: Shared})
	return out
}

// readProfiles reads the [ProfileN] sections of a profiles.ini: Name, Path and
// IsRelative (a relative Path is relative to the ini's folder). A missing or
// unreadable file gives nothing; profiles whose folder does not exist are skipped.
func readProfiles(ini string) []DB {
	f, err := os.Open(ini)
	if err != nil {
		return nil
	}
	defer f.Close()
	type section struct{ name, path, relative string }
	var secs []section
	var cur *section
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(l, "[") && strings.HasSuffix(l, "]") {
			secs = append(secs, section{})
			cur = &secs[len(secs)-1]
			if !strings.HasPrefix(strings.ToLower(l), "[profile") {
				cur = nil
			}
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if cur == nil || !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "Name":
			cur.name = strings.TrimSpace(v)
		case "Path":
			cur.path = strings.TrimSpace(v)
		case "IsRelative":
			cur.relative = strings.TrimSpace(v)
		}
	}
	var out []DB
	for _, s := range secs {
		if s.path == "" {
			continue
		}
		dir := s.path
		if s.relative != "0" && !filepath.IsAbs(dir) {
			dir = filepath.Join(filepath.Dir(ini), filepath.FromSlash(dir))
		}
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			continue
		}
		out = append(out, DB{Dir: filepath.Clean(dir), Profile: s.name})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Dir < out[j].Dir })
	return out
}
