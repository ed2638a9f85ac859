// Package setup tests `jpki setup` end to end (issue "Install it like any other
// smart-card driver"): a fresh HOME with a Firefox ESR profile made by Firefox
// itself; setup refuses the profile while a real headless Firefox holds it; then
// registers the module in the profile and in ~/.pki/nssdb (once), imports the real
// JPKI roots trusted for signatures and e-mail but not TLS; Firefox then logs in
// to a TLS server with the card's authentication key with one PIN prompt and no
// other step; pdfsig signs with ~/.pki/nssdb and calls the signature valid and
// trusted (the virtual card's CA imported the way setup imports the real roots);
// --status, --json and --remove.
package setup

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jpki-pkcs11/jpki-pkcs11/test/clients/clienttest"
	"github.com/jpki-pkcs11/jpki-pkcs11/test/harness"
	"github.com/jpki-pkcs11/jpki-pkcs11/test/testpdf"
)

var fx clienttest.Fixture

func TestMain(m *testing.M) { os.Exit(clienttest.Main(m, &fx)) }

// realRoots are the SHA-256 fingerprints (hex) of the real JPKI roots.
func realRoots(t *testing.T) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(fx.Root, "internal/cli/certinfo/roots/*.pem"))
	if len(files) == 0 {
		t.Fatal("no real JPKI roots in internal/cli/certinfo/roots")
	}
	var fps []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		blk, _ := pem.Decode(b)
		if blk == nil {
			t.Fatalf("%s: no PEM", f)
		}
		fps = append(fps, sha(blk.Bytes))
	}
	return fps
}

func sha(der []byte) string {
	s := sha256.Sum256(der)
	return hex.EncodeToString(s[:])
}

// jpki is a copy of build/jpki beside the fixture's copy of the module, so that
// setup finds and registers that module by itself, as the installed jpki does.
func jpki(t *testing.T) string {
	t.Helper()
	built, err := harness.Build("build/jpki")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(built)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(filepath.Dir(fx.Module), "jpki")
	if err := os.WriteFile(p, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// modules lists the library names modutil shows for the database dir.
func modules(t *testing.T, dir string) []string {
	t.Helper()
	out := clienttest.MustRun(t, nil, "modutil", "-dbdir", "sql:"+dir, "-list")
	var libs []string
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "library name:"); ok {
			libs = append(libs, strings.TrimSpace(v))
		}
	}
	return libs
}

// rootTrust maps each real root fingerprint found in dir to the trust flags
// ("SSL,S/MIME,JAR/XPI") certutil lists for a nickname that exports it.
func rootTrust(t *testing.T, dir string, roots []string) map[string]string {
	t.Helper()
	want := map[string]bool{}
	for _, r := range roots {
		want[r] = true
	}
	found := map[string]string{}
	line := regexp.MustCompile(`^(.*\S)\s+([A-Za-z]*,[A-Za-z]*,[A-Za-z]*)\s*$`)
	for _, l := range strings.Split(clienttest.MustRun(t, nil, "certutil", "-L", "-d", "sql:"+dir), "\n") {
		m := line.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		rest := []byte(clienttest.MustRun(t, nil, "certutil", "-L", "-d", "sql:"+dir, "-n", m[1], "-a"))
		for {
			var blk *pem.Block
			if blk, rest = pem.Decode(rest); blk == nil {
				break
			}
			if fp := sha(blk.Bytes); want[fp] {
				if prev, ok := found[fp]; !ok || prev == m[2] {
					found[fp] = m[2]
				} else {
					found[fp] = prev + " " + m[2]
				}
			}
		}
	}
	return found
}

func TestSetupFirefoxAndPdfsig(t *testing.T) {
	c := fx.SharedCard(t)
	home := t.TempDir()
	env := clienttest.Env(t, "HOME="+home)
	prof := filepath.Join(home, "ff")
	clienttest.MustRun(t, env, "firefox-esr", "--headless", "-CreateProfile", "t "+prof)
	bin := jpki(t)
	roots := realRoots(t)

	// 1. A Firefox that holds the profile: setup leaves it alone and says so.
	ff := startFirefox(t, env, prof, 0)
	waitLock(t, prof)
	out, err := clienttest.Run(t, env, bin, "setup")
	if err == nil {
		t.Fatalf("jpki setup succeeded while Firefox held the profile:\n%s", out)
	}
	clienttest.Contains(t, "jpki setup (Firefox running)", out, `Firefox profile "t": ~/ff`,
		fmt.Sprintf("Firefox (process %d) is using it: close Firefox", ff.pid()), "jpki: 1 database(s) in use")
	if _, err := os.Stat(filepath.Join(prof, "pkcs11.txt")); err == nil && len(modules(t, prof)) > 0 {
		t.Fatalf("setup registered a module in the profile Firefox holds: %v", modules(t, prof))
	}
	ff.stop(t)

	// 2. setup, twice: the module once in each database, the roots in ~/.pki/nssdb.
	nssdb := filepath.Join(home, ".pki/nssdb")
	clienttest.MustRun(t, env, bin, "setup")
	first := [][]string{modules(t, prof), modules(t, nssdb)}
	out = clienttest.MustRun(t, env, bin, "setup")
	if strings.Contains(out, "registered") || strings.Contains(out, "imported") {
		t.Fatalf("a second jpki setup changed something:\n%s", out)
	}
	for i, dir := range []string{prof, nssdb} {
		libs := modules(t, dir)
		if len(libs) != 1 || libs[0] != fx.Module || strings.Join(libs, " ") != strings.Join(first[i], " ") {
			t.Fatalf("%s registers %v, want once %s (first run: %v)", dir, libs, fx.Module, first[i])
		}
	}
	trust := rootTrust(t, nssdb, roots)
	for _, r := range roots {
		tr, ok := trust[r]
		if !ok {
			t.Fatalf("real JPKI root %s is not in ~/.pki/nssdb (found %v)", r, trust)
		}
		if tr != ",C," {
			t.Fatalf("real JPKI root %s has trust %q: want trusted for S/MIME (signatures, e-mail), not TLS", r, tr)
		}
	}
	if len(rootTrust(t, prof, roots)) != 0 {
		t.Fatal("setup imported the JPKI roots into the Firefox profile (a browser has no use for them)")
	}
	st := clienttest.MustRun(t, env, bin, "setup", "--status")
	clienttest.Contains(t, "jpki setup --status", st, "~/ff", "~/.pki/nssdb", fx.Module+" (added by jpki setup)",
		"JPKI root certificates: 4 of 4 (trust ,C,)")
	var js struct {
		Databases []struct {
			Path    string `json:"path"`
			Kind    string `json:"kind"`
			Modules []struct {
				Library string `json:"library"`
			} `json:"jpki_modules"`
			Roots []json.RawMessage `json:"jpki_roots"`
		} `json:"databases"`
	}
	if err := json.Unmarshal([]byte(clienttest.MustRun(t, env, bin, "setup", "--status", "--json")), &js); err != nil {
		t.Fatal(err)
	}
	if len(js.Databases) != 2 || js.Databases[0].Path != prof || js.Databases[0].Kind != "firefox" ||
		js.Databases[1].Path != nssdb || js.Databases[1].Kind != "shared" || len(js.Databases[1].Roots) != 4 ||
		len(js.Databases[0].Modules) != 1 || js.Databases[0].Modules[0].Library != fx.Module {
		t.Fatalf("jpki setup --status --json: %+v", js)
	}

	// 3. Firefox logs in with the card, one PIN prompt, no other step (the test
	// server's CA is the only thing the test adds: a real site has a public one).
	firefoxLogin(t, env, c, prof)

	// 4. pdfsig signs with ~/.pki/nssdb; trusted once the card's CA is imported the
	// way setup imports the real roots (trust ",C,").
	clienttest.MustRun(t, env, "certutil", "-A", "-d", "sql:"+nssdb, "-n", "virtual card signature CA", "-t", ",C,",
		"-i", c.PEM(t, "signca.der"))
	dir := t.TempDir()
	in := clienttest.WriteFile(t, dir, "in.pdf", testpdf.Minimal("signed after jpki setup"), 0o644)
	signed := filepath.Join(dir, "signed.pdf")
	clienttest.MustRun(t, env, "pdfsig", in, signed, "-add-signature", "-nssdir", "sql:"+nssdb,
		"-nick", clienttest.SignToken+":Digital Signature Certificate", "-nss-pwd", clienttest.SignPIN)
	v := clienttest.MustRun(t, env, "pdfsig", "-nssdir", "sql:"+nssdb, signed)
	clienttest.Contains(t, "pdfsig (verify)", v, "Signature is Valid", "Certificate is Trusted")
	clienttest.MustRun(t, env, "certutil", "-D", "-d", "sql:"+nssdb, "-n", "virtual card signature CA")

	// 5. --remove takes back exactly what setup added: the profile keeps the test
	// CA the test imported; the database setup created (and the folders it made)
	// go, and so does setup's state.
	clienttest.MustRun(t, env, bin, "setup", "--remove")
	if libs := modules(t, prof); len(libs) != 0 {
		t.Fatalf("--remove left modules in the profile: %v", libs)
	}
	if out := clienttest.MustRun(t, nil, "certutil", "-L", "-d", "sql:"+prof); !strings.Contains(out, "test server CA") {
		t.Fatalf("--remove took the test's own certificate from the profile:\n%s", out)
	}
	for _, p := range []string{filepath.Join(home, ".pki"), filepath.Join(home, ".local/state/jpki")} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Fatalf("--remove left %s (%v)", p, err)
		}
	}
	if out := clienttest.MustRun(t, env, bin, "setup", "--status"); strings.Contains(out, "module: \"") {
		t.Fatalf("--status after --remove still shows a module:\n%s", out)
	}
}

// waitLock waits until Firefox holds the profile (its lock link appears).
func waitLock(t *testing.T, prof string) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if _, err := os.Readlink(filepath.Join(prof, "lock")); err == nil {
			return
		}
	}
	t.Fatal("Firefox did not lock its profile in 2 minutes")
}
