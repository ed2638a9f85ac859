package install

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/jpki-pkcs11/jpki-pkcs11/test/clients/clienttest"
)

// TestManPages: the Debian package's manual pages (jpki(1), jpki-vcard(1),
// jpki-pkcs11(7)) render without a warning from man and groff, carry the
// project's version and the package's module folder, and stay in step with the
// programs: every command and flag `jpki help` lists, and every flag
// `jpki-vcard --help` lists, is described in its page.
func TestManPages(t *testing.T) {
	root := t.TempDir()
	clienttest.MustRun(t, nil, "dpkg-deb", "-x", deb(t), root)
	jpki := filepath.Join(root, "usr/bin/jpki")
	vcard := filepath.Join(root, "usr/bin/jpki-vcard")
	pages := map[string]string{} // page -> its text as man shows it
	for _, page := range []string{"man1/jpki.1.gz", "man1/jpki-vcard.1.gz", "man7/jpki-pkcs11.7.gz"} {
		file := filepath.Join(root, "usr/share/man", page)
		env := append(os.Environ(), "MANWIDTH=200", "MAN_KEEP_FORMATTING=", "LC_ALL=C.UTF-8")
		out, errOut, err := runSplit(env, "man", "--warnings", "-l", file)
		if err != nil || strings.TrimSpace(errOut) != "" {
			t.Errorf("man %s: %v\n%s", page, err, errOut)
		}
		text := regexp.MustCompile(`.\x08`).ReplaceAllString(out, "") // overstrikes of bold and underline
		if !strings.Contains(text, "jpki-pkcs11 "+version(t)) {
			t.Errorf("%s does not say version %s:\n%s", page, version(t), text)
		}
		if strings.Contains(text, "@") && regexp.MustCompile(`@[A-Z]+@`).MatchString(text) {
			t.Errorf("%s has a placeholder left: %s", page, regexp.MustCompile(`@[A-Z]+@`).FindString(text))
		}
		pages[page] = text
	}
	if m := pages["man7/jpki-pkcs11.7.gz"]; !strings.Contains(m, debModule) || !strings.Contains(m, debAuth) {
		t.Errorf("jpki-pkcs11(7) does not name %s and %s:\n%s", debModule, debAuth, m)
	}

	// jpki help: "  NAME     what it does [--flag] ..." lines, and the global flags.
	help, _ := clienttest.Run(t, nil, jpki, "help")
	jpkiPage := pages["man1/jpki.1.gz"]
	commands := regexp.MustCompile(`(?m)^  ([a-z]+) +`).FindAllStringSubmatch(help, -1)
	if len(commands) < 10 {
		t.Fatalf("jpki help lists %d commands, want the 10 or more it has:\n%s", len(commands), help)
	}
	for _, c := range commands {
		if !regexp.MustCompile(`(?m)^ {7}` + c[1] + `\b`).MatchString(jpkiPage) {
			t.Errorf("jpki(1) does not describe the command %q", c[1])
		}
	}
	flags := func(s string) []string {
		seen := map[string]bool{}
		var out []string
		for _, f := range regexp.MustCompile(`--[a-z][a-z0-9-]*`).FindAllString(s, -1) {
			if !seen[f] {
				seen[f] = true
				out = append(out, f)
			}
		}
		return out
	}
	for _, f := range flags(help) {
		if !strings.Contains(jpkiPage, f) {
			t.Errorf("jpki(1) does not describe %s (in jpki help)", f)
		}
	}
	vhelp, _ := clienttest.Run(t, nil, vcard, "--help")
	for _, f := range flags(vhelp) {
		if !strings.Contains(pages["man1/jpki-vcard.1.gz"], f) {
			t.Errorf("jpki-vcard(1) does not describe %s (in jpki-vcard --help)", f)
		}
	}
	for _, q := range regexp.MustCompile(`(?m)^ {8}([a-z0-9-]+) {2,}`).FindAllStringSubmatch(vhelp, -1) {
		if !strings.Contains(pages["man1/jpki-vcard.1.gz"], q[1]) {
			t.Errorf("jpki-vcard(1) does not describe the quirk %s", q[1])
		}
	}
}

// runSplit runs name args and returns its standard output and standard error apart
// (man writes the page to one and groff's warnings to the other).
func runSplit(env []string, name string, args ...string) (string, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), clienttest.DefaultTimeout)
	defer cancel()
	cmd := clienttest.Cmd(ctx, env, name, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	return out.String(), errOut.String(), err
}
