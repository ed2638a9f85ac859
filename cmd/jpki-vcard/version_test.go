package main

import (
	"bytes"
	"testing"

	"github.com/jpki-pkcs11/jpki-pkcs11/internal/version"
)

// TestVersion: jpki-vcard --version prints the project's one version.
func TestVersion(t *testing.T) {
	var out, errb bytes.Buffer
	if err := run([]string{"--version"}, &out, &errb); err != nil || out.String() != "jpki-vcard "+version.Version+"\n" {
		t.Fatalf("jpki-vcard --version: %v, %q", err, out.String())
	}
}
