package install

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/jpki-pkcs11/jpki-pkcs11/test/clients/clienttest"
)

// TestDebContents: build/jpki-pkcs11_VERSION-1_amd64.deb holds the module (the one
// `make` built, byte for byte) in Debian's multiarch PKCS#11 folder, the
// authentication-only entry point beside it, the p11-kit module file naming the
// module, both programs, the documentation and the copyright file (the project's
// license and those of the Go modules linked in); its dependencies are named as
// Debian names them.
func TestDebContents(t *testing.T) {
	d := deb(t)
	if want := "jpki-pkcs11_" + version(t) + "-1_amd64.deb"; filepath.Base(d) != want {
		t.Fatalf("make deb wrote %s, want %s", filepath.Base(d), want)
	}
	list := clienttest.MustRun(t, nil, "dpkg-deb", "-c", d)
	for _, p := range []string{debModule, debAuth, debP11Conf, "/usr/bin/jpki", "/usr/bin/jpki-vcard",
		"/usr/share/doc/jpki-pkcs11/copyright", "/usr/share/doc/jpki-pkcs11/changelog.Debian.gz",
		"/usr/share/doc/jpki-pkcs11/README.md.gz", "/usr/share/man/man1/jpki.1.gz",
		"/usr/share/man/man1/jpki-vcard.1.gz", "/usr/share/man/man7/jpki-pkcs11.7.gz"} {
		if !regexp.MustCompile(`(?m)^-\S+ root/root .* \.` + regexp.QuoteMeta(p) + `$`).MatchString(list) {
			t.Errorf("the package has no file %s owned by root:\n%s", p, list)
		}
	}
	field := func(f string) string {
		return strings.TrimSpace(clienttest.MustRun(t, nil, "dpkg-deb", "-f", d, f))
	}
	if v := field("Version"); v != version(t)+"-1" {
		t.Errorf("Version %q, want %s-1", v, version(t))
	}
	dep := field("Depends")
	for _, want := range []string{"libc6 (>= ", "libpcsclite1 (>= ", "libnss3-tools"} {
		if !strings.Contains(dep, want) {
			t.Errorf("Depends %q lacks %q", dep, want)
		}
	}
	if strings.Contains(dep, "golang") {
		t.Errorf("Depends %q needs Go", dep)
	}
	if r := field("Recommends"); r != "pcscd, libccid" {
		t.Errorf("Recommends %q, want pcscd, libccid", r)
	}
	if s := field("Suggests"); s != "p11-kit, vsmartcard-vpcd" {
		t.Errorf("Suggests %q, want p11-kit (the proxy), vsmartcard-vpcd (serves jpki-vcard to pcscd)", s)
	}
	root := t.TempDir()
	clienttest.MustRun(t, nil, "dpkg-deb", "-x", d, root)
	same(t, filepath.Join(fx.Root, "build/jpki-pkcs11.so"), filepath.Join(root, debModule))
	same(t, filepath.Join(fx.Root, "build/jpki-pkcs11-auth.so"), filepath.Join(root, debAuth))
	conf, err := os.ReadFile(filepath.Join(root, debP11Conf))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(conf), "\nmodule: "+debModule+"\n") {
		t.Errorf("the p11-kit module file does not name %s:\n%s", debModule, conf)
	}
	cr, err := os.ReadFile(filepath.Join(root, "/usr/share/doc/jpki-pkcs11/copyright"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/",
		"License: Expat", "github.com/ebfe/scard", "golang.org/x/term"} {
		if !strings.Contains(string(cr), want) {
			t.Errorf("copyright lacks %q", want)
		}
	}
	out := clienttest.MustRun(t, nil, filepath.Join(root, "usr/bin/jpki"), "--version")
	if strings.TrimSpace(out) != "jpki "+version(t) {
		t.Errorf("the packaged jpki --version says %q, want jpki %s", out, version(t))
	}
	out = clienttest.MustRun(t, nil, filepath.Join(root, "usr/bin/jpki-vcard"), "--version")
	if strings.TrimSpace(out) != "jpki-vcard "+version(t) {
		t.Errorf("the packaged jpki-vcard --version says %q, want jpki-vcard %s", out, version(t))
	}
}

func same(t *testing.T, a, b string) {
	t.Helper()
	x, err1 := os.ReadFile(a)
	y, err2 := os.ReadFile(b)
	if err1 != nil || err2 != nil || !bytes.Equal(x, y) {
		t.Errorf("%s differs from %s (%v, %v)", b, a, err1, err2)
	}
}

// keptLintian are the lintian warnings the package keeps, and why:
//   - initial-upload-closes-no-bugs: the changelog closes no Debian ITP bug (the
//     package is built by the project, not uploaded to Debian).
var keptLintian = map[string]bool{"initial-upload-closes-no-bugs": true}

// keptHardening are lintian's hardening notes the package keeps: jpki-vcard has no
// cgo, so Go links it itself and its linker writes no BIND_NOW (the rest is built
// with -z relro -z now and _FORTIFY_SOURCE, see the Makefile).
var keptHardening = map[string]bool{"hardening-no-bindnow [usr/bin/jpki-vcard]": true}

// TestLintian: lintian finds no error in the package, no warning but the kept ones,
// and no hardening note but the kept ones.
func TestLintian(t *testing.T) {
	out, err := clienttest.Run(t, nil, "lintian", "--display-info", "--tag-display-limit", "0", deb(t))
	var bad []string
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) < 3 {
			continue
		}
		switch {
		case f[0] == "E:", f[0] == "W:" && !keptLintian[f[2]]:
			bad = append(bad, l)
		case f[0] == "I:" && strings.HasPrefix(f[2], "hardening-") && !keptHardening[strings.Join(f[2:], " ")]:
			bad = append(bad, l)
		}
	}
	if len(bad) > 0 || (err != nil && !strings.Contains(out, "W:")) {
		t.Fatalf("lintian (%v):\n%s", err, strings.Join(bad, "\n"))
	}
}

// TestRpm: build/jpki-pkcs11-VERSION-1.x86_64.rpm holds the module in /usr/lib64/pkcs11
// (the rpm distributions' folder), the entry point, the p11-kit module file naming
// the module, the programs and the license, and requires pcsc-lite-libs and
// nss-tools (Fedora's names), recommending pcsc-lite and pcsc-lite-ccid.
func TestRpm(t *testing.T) {
	r := rpm(t)
	if want := "jpki-pkcs11-" + version(t) + "-1.x86_64.rpm"; filepath.Base(r) != want {
		t.Fatalf("make rpm wrote %s, want %s", filepath.Base(r), want)
	}
	list := clienttest.MustRun(t, nil, "rpm", "-qlp", r)
	for _, p := range []string{"/usr/lib64/pkcs11/jpki-pkcs11.so", "/usr/lib64/pkcs11/jpki-pkcs11-auth.so",
		"/usr/share/p11-kit/modules/jpki-pkcs11.module", "/usr/bin/jpki", "/usr/bin/jpki-vcard",
		"/usr/share/doc/jpki-pkcs11/LICENSE", "/usr/share/man/man1/jpki.1.gz",
		"/usr/share/man/man1/jpki-vcard.1.gz", "/usr/share/man/man7/jpki-pkcs11.7.gz"} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(p) + `$`).MatchString(list) {
			t.Errorf("the rpm has no %s:\n%s", p, list)
		}
	}
	req := clienttest.MustRun(t, nil, "rpm", "-qp", "--requires", r)
	clienttest.Contains(t, "rpm --requires", req, "pcsc-lite-libs", "nss-tools", "libpcsclite.so.1()(64bit)")
	rec := clienttest.MustRun(t, nil, "rpm", "-qp", "--recommends", r)
	clienttest.Contains(t, "rpm --recommends", rec, "pcsc-lite\n", "pcsc-lite-ccid")
	if v := strings.TrimSpace(clienttest.MustRun(t, nil, "rpm", "-qp", "--qf", "%{VERSION}-%{RELEASE}", r)); v != version(t)+"-1" {
		t.Errorf("rpm version %q, want %s-1", v, version(t))
	}
	dir := t.TempDir()
	if out, err := clienttest.RunIn(t, dir, nil, nil, "sh", "-c", "rpm2cpio "+r+" | cpio -idm --quiet"); err != nil {
		t.Fatalf("rpm2cpio | cpio: %v\n%s", err, out)
	}
	conf, err := os.ReadFile(filepath.Join(dir, "usr/share/p11-kit/modules/jpki-pkcs11.module"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(conf), "\nmodule: /usr/lib64/pkcs11/jpki-pkcs11.so\n") {
		t.Errorf("the rpm's p11-kit module file does not name /usr/lib64/pkcs11/jpki-pkcs11.so:\n%s", conf)
	}
}
