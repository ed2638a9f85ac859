package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/jpki-pkcs11/jpki-pkcs11/internal/cli/certinfo"
	"github.com/jpki-pkcs11/jpki-pkcs11/internal/cli/nssdb"
)

// jpki setup registers the module in every NSS database of the user and imports the
// real JPKI root CAs where signatures are checked (setupstate.go keeps what it
// added, so --remove takes back exactly that).

// setupModuleName is the name setup gives the module in NSS databases.
const setupModuleName = "JPKI My Number Card"

// rootTrust is the NSS trust setup gives the JPKI roots: a CA for S/MIME (e-mail
// and document signatures: pdfsig, Okular, LibreOffice and Thunderbird verify
// signers with the e-mail signer usage), never for TLS servers (the JPKI CAs issue
// no server certificates) nor code signing.
const rootTrust = ",C,"

// dbReport is one database in the output of setup, --status and --remove.
type dbReport struct {
	nssdb.DB
	Exists   bool           `json:"exists"`
	HeldBy   string         `json:"held_by,omitempty"` // a running Firefox/Thunderbird
	Modules  []nssdb.Module `json:"jpki_modules"`      // jpki-pkcs11 modules registered
	Roots    []nssdb.Cert   `json:"jpki_roots"`        // real JPKI roots present
	Added    *dbRecord      `json:"added_by_setup,omitempty"`
	Actions  []string       `json:"actions,omitempty"` // what this run did
	Error    string         `json:"error,omitempty"`
	wantRoot bool
}

func (a *app) setup(args []string) error {
	fs := a.flags("setup")
	status := fs.Bool("status", false, "list the databases and what is registered")
	remove := fs.Bool("remove", false, "take back what setup added")
	module := fs.String("module", "", "the module to register (default: the one installed beside jpki)")
	pos, err := parseFlags(fs, args, false)
	if err != nil {
		return err
	}
	if err := want("setup", pos, 0, "no arguments"); err != nil {
		return err
	}
	if *status && *remove {
		return usagef("setup: --status and --remove do not go together")
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return fmt.Errorf("setup: no home folder (HOME is not set)")
	}
	tools, err := nssdb.LookTools()
	if err != nil {
		return err
	}
	st, err := loadSetupState(home)
	if err != nil {
		return err
	}
	s := &setupRun{a: a, home: home, tools: tools, state: st}
	switch {
	case *status:
		return s.status()
	case *remove:
		return s.remove()
	}
	lib, err := findModule(*module)
	if err != nil {
		return err
	}
	return s.add(lib)
}

// setupRun is one run of jpki setup.
type setupRun struct {
	a     *app
	home  string
	tools *nssdb.Tools
	state *setupState
}

// databases are the databases found now, then those setup changed before and no
// longer finds (a profile removed from profiles.ini).
func (s *setupRun) databases() []dbReport {
	var out []dbReport
	seen := map[string]bool{}
	for _, db := range nssdb.Find(s.home, os.Getenv("XDG_CONFIG_HOME")) {
		seen[db.Dir] = true
		out = append(out, dbReport{DB: db, wantRoot: db.Kind != nssdb.Firefox})
	}
	for _, dir := range s.state.dirs() {
		if !seen[dir] {
			r := s.state.Databases[dir]
			out = append(out, dbReport{DB: nssdb.DB{Dir: dir, Kind: r.Kind, Profile: r.Profile}})
		}
	}
	return out
}

// inspect fills what r's database holds now.
func (s *setupRun) inspect(r *dbReport) {
	r.Exists = r.DB.Exists()
	if h, ok := nssdb.InUse(r.DB); ok {
		r.HeldBy = h.String()
	}
	r.Added = s.state.Databases[r.Dir]
	r.Modules, r.Roots = []nssdb.Module{}, []nssdb.Cert{}
	if !r.Exists {
		return
	}
	mods, err := s.tools.Modules(r.Dir)
	if err != nil {
		r.Error = err.Error()
		return
	}
	for _, m := range mods {
		if isJPKIModule(m.Library) {
			r.Modules = append(r.Modules, m)
		}
	}
	certs, err := s.tools.Certs(r.Dir)
	if err != nil {
		r.Error = err.Error()
		return
	}
	roots := rootFingerprints()
	for _, c := range certs {
		if _, ok := roots[c.SHA256]; ok {
			r.Roots = append(r.Roots, c)
		}
	}
}

// add registers lib in every database and imports the roots where they serve.
func (s *setupRun) add(lib string) error {
	var reports []dbReport
	held := 0
	failed := 0
	for _, r := range s.databases() {
		if _, known := s.state.Databases[r.Dir]; !known && !r.isFound() {
			continue
		}
		s.inspect(&r)
		switch {
		case r.HeldBy != "":
			held++
			r.Error = fmt.Sprintf("%s is using it: close %s and run jpki setup again (nothing was changed here)", r.HeldBy, r.App())
		case r.Error != "":
			failed++
		default:
			if err := s.addTo(&r, lib); err != nil {
				failed++
				r.Error = err.Error()
			}
			s.inspect(&r)
		}
		reports = append(reports, r)
	}
	if err := s.state.save(s.home); err != nil {
		return err
	}
	s.print(reports, lib)
	return setupOutcome(held, failed, "set up")
}

// isFound tells whether r was found on disk now (not only remembered).
func (r dbReport) isFound() bool { return r.Kind == nssdb.Shared || r.Ini != "" }

// addTo registers lib in r's database (creating it if needed) and imports the
// roots; what it adds is recorded in s.state at once.
func (s *setupRun) addTo(r *dbReport, lib string) error {
	rec := s.state.record(r.DB)
	if !r.Exists {
		rec.Dirs = missingDirs(r.Dir)
		if err := s.tools.Create(r.Dir); err != nil {
			return err
		}
		rec.Created = true
		r.Actions = append(r.Actions, "created the database")
		if err := s.state.save(s.home); err != nil {
			return err
		}
		s.inspect(r)
	}
	if err := s.addModule(r, rec, lib); err != nil {
		return err
	}
	if err := s.state.save(s.home); err != nil {
		return err
	}
	if !r.wantRoot {
		return nil
	}
	present := map[string]bool{}
	for _, c := range r.Roots {
		present[c.SHA256] = true
	}
	for _, root := range certinfo.JPKIRootCerts() {
		fp := nssdb.Fingerprint(root.DER)
		if present[fp] {
			continue
		}
		nick := rootNickname(root.Name)
		if err := s.tools.AddCert(r.Dir, nick, rootTrust, root.DER); err != nil {
			return fmt.Errorf("importing %s: %w (a database with a primary password needs it: import the JPKI roots with certutil yourself)", nick, err)
		}
		rec.Roots = append(rec.Roots, nssdb.Cert{Nickname: nick, Trust: rootTrust, SHA256: fp})
		r.Actions = append(r.Actions, "imported "+nick+" (trusted for signatures and e-mail, not TLS)")
		if err := s.state.save(s.home); err != nil {
			return err
		}
	}
	return nil
}

// addModule registers lib unless a jpki-pkcs11 module is there already: setup's
// own with another library is moved to lib; one the user registered is left as
// it is.
func (s *setupRun) addModule(r *dbReport, rec *dbRecord, lib string) error {
	for _, m := range r.Modules {
		ours := rec.Module != nil && rec.Module.Name == m.Name
		switch {
		case m.Library == lib:
			return nil
		case ours:
			if err := s.tools.DeleteModule(r.Dir, m.Name); err != nil {
				return err
			}
			rec.Module = nil
			r.Actions = append(r.Actions, "unregistered "+m.Library)
		default:
			r.Actions = append(r.Actions, fmt.Sprintf("left %q (%s) as it is: registered by someone else", m.Name, m.Library))
			return nil
		}
	}
	if err := s.tools.AddModule(r.Dir, setupModuleName, lib); err != nil {
		return err
	}
	rec.Module = &nssdb.Module{Name: setupModuleName, Library: lib}
	r.Actions = append(r.Actions, "registered "+lib)
	return nil
}

// remove takes back what setup added, database by database.
func (s *setupRun) remove() error {
	var reports []dbReport
	held, failed := 0, 0
	for _, r := range s.databases() {
		rec := s.state.Databases[r.Dir]
		if rec == nil {
			continue
		}
		s.inspect(&r)
		switch {
		case r.HeldBy != "":
			held++
			r.Error = fmt.Sprintf("%s is using it: close %s and run jpki setup --remove again (nothing was changed here)", r.HeldBy, r.App())
		default:
			if err := s.removeFrom(&r, rec); err != nil {
				failed++
				r.Error = err.Error()
			}
			s.inspect(&r)
		}
		reports = append(reports, r)
	}
	if err := s.state.save(s.home); err != nil {
		return err
	}
	s.print(reports, "")
	return setupOutcome(held, failed, "cleaned up")
}

// removeFrom deletes rec's module and roots from r's database and, if setup
// created the database and nothing else is in it now, the database files.
func (s *setupRun) removeFrom(r *dbReport, rec *dbRecord) error {
	if !r.Exists {
		delete(s.state.Databases, r.Dir)
		return nil
	}
	if rec.Module != nil {
		for _, m := range r.Modules {
			if m.Name == rec.Module.Name && m.Library == rec.Module.Library {
				if err := s.tools.DeleteModule(r.Dir, m.Name); err != nil {
					return err
				}
				r.Actions = append(r.Actions, "unregistered "+m.Library)
			}
		}
		rec.Module = nil
		if err := s.state.save(s.home); err != nil {
			return err
		}
	}
	present := map[string]bool{}
	for _, c := range r.Roots {
		present[c.SHA256] = true
	}
	for len(rec.Roots) > 0 {
		c := rec.Roots[0]
		if present[c.SHA256] {
			if err := s.tools.DeleteCert(r.Dir, c.Nickname); err != nil {
				return err
			}
			r.Actions = append(r.Actions, "removed "+c.Nickname)
		}
		rec.Roots = rec.Roots[1:]
		if err := s.state.save(s.home); err != nil {
			return err
		}
	}
	if rec.Created {
		removed, err := s.removeIfEmpty(r, rec)
		if err != nil {
			return err
		}
		if removed {
			r.Actions = append(r.Actions, "removed the database setup had created")
		}
	}
	delete(s.state.Databases, r.Dir)
	return nil
}

// dbFiles are the files of an NSS sql database.
var dbFiles = []string{"cert9.db", "key4.db", "pkcs11.txt"}

// removeIfEmpty deletes the database files of r when it holds no module, no
// certificate and no key, and then the folders setup made for it, if empty.
func (s *setupRun) removeIfEmpty(r *dbReport, rec *dbRecord) (bool, error) {
	mods, err := s.tools.Modules(r.Dir)
	if err != nil || len(mods) > 0 {
		return false, err
	}
	certs, err := s.tools.Certs(r.Dir)
	if err != nil || len(certs) > 0 {
		return false, err
	}
	if has, err := s.tools.HasKeys(r.Dir); err != nil || has {
		return false, nil // a key (or a password we cannot give): keep it
	}
	for _, f := range dbFiles {
		if err := os.Remove(filepath.Join(r.Dir, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return false, err
		}
	}
	removeDirs(rec.Dirs)
	return true, nil
}

// status lists every database and what is in it.
func (s *setupRun) status() error {
	var reports []dbReport
	for _, r := range s.databases() {
		s.inspect(&r)
		reports = append(reports, r)
	}
	s.print(reports, "")
	return nil
}

// setupOutcome is the run's error: databases held by a program or failed.
func setupOutcome(held, failed int, what string) error {
	switch {
	case held > 0 && failed > 0:
		return fmt.Errorf("%d database(s) in use by a running program and %d failed were not %s (see above)", held, failed, what)
	case held > 0:
		return fmt.Errorf("%d database(s) in use by a running program were not %s: close it and run the command again", held, what)
	case failed > 0:
		return fmt.Errorf("%d database(s) could not be %s (see above)", failed, what)
	}
	return nil
}

// print writes the reports, as text or JSON.
func (s *setupRun) print(reports []dbReport, lib string) {
	w := s.a.env.Stdout
	if s.a.opt.json {
		out := map[string]any{"databases": reports}
		if lib != "" {
			out["module"] = lib
		}
		_ = writeJSON(w, out)
		return
	}
	for _, r := range reports {
		fmt.Fprintf(w, "%s\n", s.title(r))
		for _, act := range r.Actions {
			fmt.Fprintf(w, "  %s\n", act)
		}
		switch {
		case !r.Exists:
			fmt.Fprintf(w, "  no database yet\n")
		case len(r.Modules) == 0:
			fmt.Fprintf(w, "  module: not registered\n")
		}
		for _, m := range r.Modules {
			by := ""
			if r.Added != nil && r.Added.Module != nil && r.Added.Module.Name == m.Name {
				by = " (added by jpki setup)"
			}
			fmt.Fprintf(w, "  module: %q %s%s\n", m.Name, m.Library, by)
		}
		if r.Exists && (r.wantRoot || len(r.Roots) > 0) {
			fmt.Fprintf(w, "  JPKI root certificates: %d of %d", len(r.Roots), len(certinfo.JPKIRootCerts()))
			if len(r.Roots) > 0 {
				fmt.Fprintf(w, " (trust %s)", trustSummary(r.Roots))
			}
			fmt.Fprintln(w)
		}
		if r.Error != "" {
			fmt.Fprintf(w, "  NOT CHANGED: %s\n", r.Error)
		}
	}
}

// title names a database for the card holder: what it is and where.
func (s *setupRun) title(r dbReport) string {
	where := r.Dir
	if rel, err := filepath.Rel(s.home, r.Dir); err == nil && !strings.HasPrefix(rel, "..") {
		where = "~/" + rel
	}
	switch r.Kind {
	case nssdb.Firefox, nssdb.Thunderbird:
		return fmt.Sprintf("%s profile %q: %s", r.App(), r.Profile, where)
	}
	return fmt.Sprintf("shared NSS database (Chromium, pdfsig, Okular, LibreOffice): %s", where)
}

// trustSummary is the distinct trust flags of certs ("SSL,S/MIME,JAR/XPI").
func trustSummary(certs []nssdb.Cert) string {
	var ts []string
	seen := map[string]bool{}
	for _, c := range certs {
		if !seen[c.Trust] {
			seen[c.Trust] = true
			ts = append(ts, c.Trust)
		}
	}
	return strings.Join(ts, " ")
}

// rootNickname is the nickname of the root file name ("auth_ca_2023").
func rootNickname(name string) string {
	kind, year, _ := strings.Cut(name, "_ca_")
	switch kind {
	case "auth":
		return "JPKI root CA for user authentication (" + year + ")"
	case "sign":
		return "JPKI root CA for digital signature (" + year + ")"
	}
	return "JPKI root CA " + name
}

// rootFingerprints maps the real roots' SHA-256 to their file names.
func rootFingerprints() map[string]string {
	m := map[string]string{}
	for _, r := range certinfo.JPKIRootCerts() {
		m[nssdb.Fingerprint(r.DER)] = r.Name
	}
	return m
}

// isJPKIModule tells whether a registered library is one of ours (by file name).
func isJPKIModule(lib string) bool {
	base := strings.ToLower(filepath.Base(strings.ReplaceAll(lib, `\`, "/")))
	return strings.HasPrefix(base, "jpki-pkcs11")
}

// moduleCandidates are where the module is looked for, relative to the folder of
// the jpki program: beside it (build/), then the library folders of an installed
// package (Debian multiarch, rpm's lib64, make install's lib).
var moduleCandidates = []string{
	"jpki-pkcs11.so",
	"../lib/x86_64-linux-gnu/pkcs11/jpki-pkcs11.so",
	"../lib64/pkcs11/jpki-pkcs11.so",
	"../lib/pkcs11/jpki-pkcs11.so",
}

// findModule is the module to register: flag if given, else the first of
// moduleCandidates that exists.
func findModule(flag string) (string, error) {
	if flag != "" {
		abs, err := filepath.Abs(flag)
		if err != nil {
			return "", err
		}
		if _, err := os.Stat(abs); err != nil {
			return "", fmt.Errorf("setup --module: %w", err)
		}
		return abs, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	dir := filepath.Dir(exe)
	for _, c := range moduleCandidates {
		p := filepath.Clean(filepath.Join(dir, c))
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("setup: no jpki-pkcs11.so beside %s or in its ../lib folders: pass --module PATH", exe)
}
