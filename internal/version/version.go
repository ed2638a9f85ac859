// Package version is the one version of the project: the jpki and jpki-vcard
// commands print it (--version), the PKCS#11 module reports its major and minor in
// C_GetInfo (module/version.h, generated from the same file by `make`), and the
// packages (make deb, rpm, msi) are named after it.
//
// The version lives in the file VERSION beside this one; change it there only.
package version

import (
	_ "embed"
	"fmt"
	"strconv"
	"strings"
)

//go:embed VERSION
var raw string

// Version is the project's version, MAJOR.MINOR.PATCH (e.g. "0.2.0").
var Version = strings.TrimSpace(raw)

// MajorMinor splits v ("MAJOR.MINOR[.PATCH...]") into the two numbers PKCS#11's
// CK_VERSION holds (each 0..255).
func MajorMinor(v string) (major, minor byte, err error) {
	parts := strings.Split(v, ".")
	if len(parts) < 2 {
		return 0, 0, fmt.Errorf("version %q: want MAJOR.MINOR[.PATCH]", v)
	}
	var n [2]byte
	for i := range n {
		x, err := strconv.ParseUint(parts[i], 10, 8)
		if err != nil {
			return 0, 0, fmt.Errorf("version %q: %w", v, err)
		}
		n[i] = byte(x)
	}
	return n[0], n[1], nil
}
