package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/jpki-pkcs11/jpki-pkcs11/internal/cli/nssdb"
)

// setupState is what jpki setup added, per database directory, kept in
// $XDG_STATE_HOME/jpki/setup.json (~/.local/state/jpki/setup.json), so that
// `jpki setup --remove` takes back exactly that and nothing the user added.
type setupState struct {
	Databases map[string]*dbRecord `json:"databases"`
	StateDirs []string             `json:"created_folders,omitempty"` // the folders of this file setup made
	path      string
}

// missingDirs are dir and those of its parents that do not exist, deepest first:
// the folders a MkdirAll(dir) would create.
func missingDirs(dir string) []string {
	var out []string
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil || filepath.Dir(d) == d {
			return out
		}
		out = append(out, d)
	}
}

// removeDirs removes the folders dirs (deepest first), each only if empty.
func removeDirs(dirs []string) {
	for _, d := range dirs {
		if os.Remove(d) != nil {
			return
		}
	}
}

// dbRecord is what setup added to one database.
type dbRecord struct {
	Kind    nssdb.Kind    `json:"kind"`
	Profile string        `json:"profile,omitempty"`
	Created bool          `json:"created,omitempty"` // setup created the database
	Dirs    []string      `json:"created_folders,omitempty"`
	Module  *nssdb.Module `json:"module,omitempty"`
	Roots   []nssdb.Cert  `json:"roots,omitempty"`
}

func setupStatePath(home string) string {
	dir := os.Getenv("XDG_STATE_HOME")
	if dir == "" || !filepath.IsAbs(dir) {
		dir = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(dir, "jpki", "setup.json")
}

func loadSetupState(home string) (*setupState, error) {
	st := &setupState{Databases: map[string]*dbRecord{}, path: setupStatePath(home)}
	b, err := os.ReadFile(st.path)
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, st); err != nil {
		return nil, fmt.Errorf("%s is damaged (%v): move it away to start over", st.path, err)
	}
	if st.Databases == nil {
		st.Databases = map[string]*dbRecord{}
	}
	return st, nil
}

// record returns db's record, creating it.
func (st *setupState) record(db nssdb.DB) *dbRecord {
	r := st.Databases[db.Dir]
	if r == nil {
		r = &dbRecord{Kind: db.Kind, Profile: db.Profile}
		st.Databases[db.Dir] = r
	}
	return r
}

// dirs are the recorded database directories, sorted.
func (st *setupState) dirs() []string {
	var ds []string
	for d := range st.Databases {
		ds = append(ds, d)
	}
	sort.Strings(ds)
	return ds
}

// save writes the state (atomically); with nothing recorded it removes the file
// and the folders it made, if empty.
func (st *setupState) save(string) error {
	for d, r := range st.Databases {
		if !r.Created && r.Module == nil && len(r.Roots) == 0 {
			delete(st.Databases, d)
		}
	}
	if len(st.Databases) == 0 {
		if err := os.Remove(st.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		removeDirs(st.StateDirs)
		st.StateDirs = nil
		return nil
	}
	if len(st.StateDirs) == 0 {
		st.StateDirs = missingDirs(filepath.Dir(st.path))
	}
	if err := os.MkdirAll(filepath.Dir(st.path), 0o700); err != nil {
		return err
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	tmp := st.path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, st.path)
}
