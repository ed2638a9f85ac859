package main

import (
	"errors"
	"fmt"
	"testing"
	"unicode/utf8"

	"github.com/jpki-pkcs11/jpki-pkcs11/ck"
)

// The C ABI itself is tested from outside by test/cabi (a C program loading the
// built library); these are the pure Go helpers.

func TestPad(t *testing.T) {
	cases := []struct {
		name, in string
		width    int
		want     string
	}{
		{"short ASCII padded with spaces", "JPKI", 8, "JPKI    "},
		{"exact width", "12345678", 8, "12345678"},
		{"long ASCII cut", "0123456789", 8, "01234567"},
		{"empty is all spaces", "", 4, "    "},
		// "署名用" is 9 bytes (3 per rune): widths count bytes, cuts fall between runes.
		{"multi-byte fits by bytes", "署名用", 9, "署名用"},
		{"multi-byte cut at a rune boundary", "署名用", 8, "署名  "},
		{"multi-byte cut inside the first rune", "署", 2, "  "},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dst := make([]byte, c.width)
			for i := range dst {
				dst[i] = 0xAA
			}
			pad(dst, c.in)
			if string(dst) != c.want {
				t.Fatalf("pad(%q, %d) = %q, want %q", c.in, c.width, dst, c.want)
			}
			if !utf8.Valid(dst) {
				t.Fatalf("pad(%q, %d) = %q: not valid UTF-8", c.in, c.width, dst)
			}
		})
	}
}

func TestRVOf(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want ck.RV
	}{
		{"nil is CKR_OK", nil, ck.CKR_OK},
		{"a ck.RV is itself", ck.CKR_PIN_INCORRECT, ck.CKR_PIN_INCORRECT},
		{"a wrapped ck.RV is found", fmt.Errorf("login: %w", ck.CKR_PIN_LOCKED), ck.CKR_PIN_LOCKED},
		{"anything else is CKR_GENERAL_ERROR", errors.New("boom"), ck.CKR_GENERAL_ERROR},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := rvOf(c.err); got != c.want {
				t.Fatalf("rvOf(%v) = %v, want %v", c.err, got, c.want)
			}
		})
	}
}
