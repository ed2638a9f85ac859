package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jpki-pkcs11/jpki-pkcs11/vcard"
)

// TestNewVariations: jpki-vcard --help lists every variation; new takes
// --phone, repeated --quirk and --ef0008, refuses unknown ones, and info names
// them.
func TestNewVariations(t *testing.T) {
	var out, errb bytes.Buffer
	if err := run([]string{"--help"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	for _, q := range vcard.QuirkList {
		if !strings.Contains(out.String(), q.Name+" ") {
			t.Errorf("--help does not list %s", q.Name)
		}
	}
	for _, w := range []string{"--phone android|ios", "--ef0008 HEX", "--quirk NAME"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("--help lacks %q", w)
		}
	}
	dir := filepath.Join(t.TempDir(), "card")
	args := []string{"new", dir, "--phone", "android", "--quirk", "verify-9000", "--quirk", "no-short-ef", "--ef0008", "8F8F00"}
	if err := run(args, &out, &errb); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := run([]string{"info", dir}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"Android smartphone certificate", "quirk:           verify-9000", "quirk:           no-short-ef",
		"EF 0008:         8F 8F 00", "ATR:             3B 80 80 01 01"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("info lacks %q:\n%s", w, out.String())
		}
	}
	for _, bad := range [][]string{{"--quirk", "no-such"}, {"--phone", "nokia"}, {"--ef0008", "zz"}} {
		if err := run(append([]string{"new", filepath.Join(t.TempDir(), "x")}, bad...), &out, &errb); err == nil {
			t.Errorf("new %v accepted", bad)
		}
	}
}
