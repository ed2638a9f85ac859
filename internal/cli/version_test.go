package cli

import (
	"testing"

	"github.com/jpki-pkcs11/jpki-pkcs11/internal/version"
)

// TestVersion: jpki --version prints the project's one version.
func TestVersion(t *testing.T) {
	for _, arg := range []string{"--version", "version"} {
		r := run(t, nil, "", arg)
		if r.code != 0 || r.out != "jpki "+version.Version+"\n" {
			t.Fatalf("jpki %s: code %d, %q", arg, r.code, r.out)
		}
	}
}
