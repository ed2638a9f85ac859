package version

import (
	"fmt"
	"os"
	"regexp"
	"testing"
)

func TestVersionForm(t *testing.T) {
	if !regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+$`).MatchString(Version) {
		t.Fatalf("VERSION is %q, want MAJOR.MINOR.PATCH", Version)
	}
}

// TestModuleHeader: module/version.h (what C_GetInfo reports) says the same
// major and minor as VERSION; `make module/version.h` rewrites it.
func TestModuleHeader(t *testing.T) {
	major, minor, err := MajorMinor(Version)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("../../module/version.h")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]byte{"MAJOR": major, "MINOR": minor} {
		re := regexp.MustCompile(`(?m)^#define JPKI_LIBRARY_VERSION_` + name + ` ([0-9]+)$`)
		m := re.FindSubmatch(b)
		if m == nil || string(m[1]) != fmt.Sprint(want) {
			t.Errorf("module/version.h: JPKI_LIBRARY_VERSION_%s is %q, VERSION %s says %d (run make module/version.h)", name, m, Version, want)
		}
	}
}

func TestMajorMinor(t *testing.T) {
	for _, c := range []struct {
		in           string
		major, minor byte
		ok           bool
	}{
		{"0.2.0", 0, 2, true}, {"1.10", 1, 10, true}, {"3.255.1", 3, 255, true},
		{"1", 0, 0, false}, {"1.256.0", 0, 0, false}, {"a.b", 0, 0, false},
	} {
		ma, mi, err := MajorMinor(c.in)
		if (err == nil) != c.ok || ma != c.major || mi != c.minor {
			t.Errorf("MajorMinor(%q) = %d, %d, %v", c.in, ma, mi, err)
		}
	}
}
