// Package install tests the packages (issue "Install it like any other smart-card
// driver"): make deb and make rpm, their contents and dependencies, lintian, and the
// Debian package installed and purged by dpkg into a private root (dpkg --root), whose
// module and p11-kit module file are then shown, in a private mount namespace, in
// place of the system's p11-kit module folders: p11-kit list-modules, p11-kit-proxy
// and GnuTLS find the card with no configuration. Nothing is installed on this
// machine: a system-wide package would be loaded by every p11-kit user here,
// beside other tests' own builds of the module.
package install

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/jpki-pkcs11/jpki-pkcs11/test/clients/clienttest"
	"github.com/jpki-pkcs11/jpki-pkcs11/test/harness"
)

var fx clienttest.Fixture

func TestMain(m *testing.M) { os.Exit(clienttest.Main(m, &fx)) }

// Installed paths in the Debian package.
const (
	debModule  = "/usr/lib/x86_64-linux-gnu/pkcs11/jpki-pkcs11.so"
	debAuth    = "/usr/lib/x86_64-linux-gnu/pkcs11/jpki-pkcs11-auth.so"
	debP11Conf = "/usr/share/p11-kit/modules/jpki-pkcs11.module"
)

// version is the project's version (internal/version/VERSION).
func version(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fx.Root, "internal/version/VERSION"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

var built struct {
	sync.Mutex
	m map[string]string
}

// pkg runs `make target` once per process and returns the one file matching glob
// in build/.
func pkg(t *testing.T, target, glob string) string {
	t.Helper()
	built.Lock()
	defer built.Unlock()
	if p, ok := built.m[target]; ok {
		return p
	}
	if out, err := harness.Make(target); err != nil {
		t.Fatalf("make %s: %v\n%s", target, err, out)
	}
	files, _ := filepath.Glob(filepath.Join(fx.Root, "build", glob))
	if len(files) != 1 {
		t.Fatalf("make %s wrote %d files %s, want 1: %v", target, len(files), glob, files)
	}
	if built.m == nil {
		built.m = map[string]string{}
	}
	built.m[target] = files[0]
	return files[0]
}

func deb(t *testing.T) string { return pkg(t, "deb", "jpki-pkcs11_*_amd64.deb") }
func rpm(t *testing.T) string { return pkg(t, "rpm", "jpki-pkcs11-*.x86_64.rpm") }
