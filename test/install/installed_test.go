package install

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jpki-pkcs11/jpki-pkcs11/test/clients/clienttest"
)

// dpkgRoot makes an empty dpkg root (its own status database) and installs the
// package into it with dpkg itself (--force-depends: the root has no other
// packages). It returns the root.
func dpkgRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"var/lib/dpkg/status", "var/lib/dpkg/available"} {
		clienttest.WriteFile(t, root, f, nil, 0o644)
	}
	clienttest.MustRun(t, nil, "dpkg", "--root="+root, "--force-depends", "--force-not-root", "-i", deb(t))
	return root
}

// inInstalled runs script with sh in a private mount namespace where the root's
// PKCS#11 folder and p11-kit module folder are bind-mounted over the system's
// (/usr/lib/x86_64-linux-gnu/pkcs11 and /usr/share/p11-kit/modules): to the
// programs in it the package is installed, and no other process sees it.
func inInstalled(t *testing.T, root, script string) string {
	t.Helper()
	pre := `set -e
mount --bind "$1/usr/lib/x86_64-linux-gnu/pkcs11" /usr/lib/x86_64-linux-gnu/pkcs11
mount --bind "$1/usr/share/p11-kit/modules" /usr/share/p11-kit/modules
`
	return clienttest.MustRun(t, clienttest.Env(t), "unshare", "-m", "--propagation", "private",
		"sh", "-c", pre+script, "sh", root)
}

// TestInstalledFindsCard: with the package installed (dpkg into a private root,
// shown in place of the system's folders), p11-kit list-modules shows the module
// with the card's tokens, pkcs11-tool through p11-kit-proxy.so and GnuTLS's
// p11tool (no --provider) list the card's tokens, pkcs11-tool reads C_GetInfo's
// libraryVersion = the project's MAJOR.MINOR, and jpki-pkcs11-auth.so beside
// the module shows the authentication token alone. p11-kit does not load the
// entry point (it has no module file: p11-kit-proxy would load both files).
func TestInstalledFindsCard(t *testing.T) {
	fx.SharedCard(t)
	root := dpkgRoot(t)
	out := inInstalled(t, root, `
p11-kit list-modules; echo '--- proxy'
pkcs11-tool --module /usr/lib/x86_64-linux-gnu/p11-kit-proxy.so -L; echo '--- p11tool'
p11tool --list-tokens; echo '--- info'
pkcs11-tool --module `+debModule+` -I; echo '--- auth'
pkcs11-tool --module `+debAuth+` -L`)
	parts := strings.Split(out, "\n--- ")
	if len(parts) != 5 {
		t.Fatalf("unexpected output:\n%s", out)
	}
	var mine []string
	in := false
	for _, l := range strings.Split(parts[0], "\n") {
		if !strings.HasPrefix(l, " ") && !strings.HasPrefix(l, "\t") {
			in = l == "jpki-pkcs11: "+debModule
		}
		if in {
			mine = append(mine, l)
		}
	}
	clienttest.Contains(t, "p11-kit list-modules (jpki-pkcs11)", strings.Join(mine, "\n"),
		"token: "+clienttest.AuthToken, "token: "+clienttest.SignToken)
	clienttest.Contains(t, "pkcs11-tool through p11-kit-proxy.so", parts[1],
		"token label        : "+clienttest.AuthToken, "token label        : "+clienttest.SignToken)
	clienttest.Contains(t, "p11tool --list-tokens", parts[2], "Label: "+clienttest.AuthToken, "Label: "+clienttest.SignToken)
	major, minor, _ := strings.Cut(version(t), ".")
	minor, _, _ = strings.Cut(minor, ".")
	clienttest.Contains(t, "pkcs11-tool -I", parts[3], "(ver "+major+"."+minor+")")
	clienttest.Contains(t, "pkcs11-tool -L (jpki-pkcs11-auth.so)", parts[4], "token label        : "+clienttest.AuthToken)
	if strings.Contains(parts[4], clienttest.SignToken) {
		t.Fatalf("the installed jpki-pkcs11-auth.so shows the signature token:\n%s", parts[4])
	}
	if strings.Contains(parts[0], "jpki-pkcs11-auth") {
		t.Fatalf("p11-kit knows the module more than once (the entry point must not be registered):\n%s", parts[0])
	}
}

// TestPurgeLeavesNothing: dpkg --purge takes every file of the package away: only
// dpkg's own database is left in the root.
func TestPurgeLeavesNothing(t *testing.T) {
	root := dpkgRoot(t)
	clienttest.MustRun(t, nil, "dpkg", "--root="+root, "--force-not-root", "--purge", "jpki-pkcs11")
	var left []string
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		rel, _ := filepath.Rel(root, p)
		if err != nil || rel == "." || rel == "var" || rel == "var/lib" || strings.HasPrefix(rel, "var/lib/dpkg") {
			return nil
		}
		left = append(left, rel)
		return nil
	})
	if len(left) > 0 {
		t.Fatalf("dpkg --purge left %v", left)
	}
	if out := clienttest.MustRun(t, nil, "dpkg", "--root="+root, "-l"); strings.Contains(out, "jpki-pkcs11") {
		t.Fatalf("dpkg still lists jpki-pkcs11 after --purge:\n%s", out)
	}
}
