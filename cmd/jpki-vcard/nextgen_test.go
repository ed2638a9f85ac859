package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestNewNextGeneration: `jpki-vcard new DIR --generation next` makes a
// next-generation card that `info` describes; another generation is refused.
func TestNewNextGeneration(t *testing.T) {
	var out, errOut bytes.Buffer
	dir := t.TempDir() + "/next"
	if err := run([]string{"new", dir, "--generation", "next", "--auth-pin", "1234", "--sign-pin", "ABC123"}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := run([]string{"info", dir}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"next generation (ECDSA P-384, assumed commands)", "ATR:             3B 89 80 01 4A 50 4B 49",
		"auth PIN tries:  3 of 3", "sign PIN tries:  5 of 5", "auth certificate:", "sign certificate:"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("info lacks %q:\n%s", want, out.String())
		}
	}
	for _, bad := range [][]string{{"--generation", "third"}, {"--generation", "next", "--juki"}, {"--generation", "next", "--no-pss"}} {
		if err := run(append([]string{"new", t.TempDir() + "/x"}, bad...), &out, &errOut); err == nil {
			t.Errorf("new %v accepted", bad)
		}
	}
}
