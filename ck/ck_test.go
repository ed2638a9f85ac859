package ck

import (
	"errors"
	"fmt"
	"testing"
)

func TestULongRoundTrip(t *testing.T) {
	for _, v := range []ULong{0, 1, 0x80, 0x1234, 0x80000000, CK_UNAVAILABLE_INFORMATION & (1<<(8*ULongSize) - 1)} {
		b := EncodeULong(v)
		if len(b) != ULongSize {
			t.Fatalf("EncodeULong(%#x): %d bytes, want %d", v, len(b), ULongSize)
		}
		if b[0] != byte(v) {
			t.Fatalf("EncodeULong(%#x) = %x: not little-endian", v, b)
		}
		got, ok := DecodeULong(b)
		if !ok || got != v {
			t.Fatalf("DecodeULong(%x) = %#x, %v; want %#x", b, got, ok, v)
		}
	}
	for _, n := range []int{0, 1, ULongSize - 1, ULongSize + 1} {
		if _, ok := DecodeULong(make([]byte, n)); ok {
			t.Fatalf("DecodeULong accepted %d bytes", n)
		}
	}
}

func TestRVError(t *testing.T) {
	cases := map[RV]string{
		CKR_OK: "CKR_OK", CKR_PIN_INCORRECT: "CKR_PIN_INCORRECT", CKR_DEVICE_REMOVED: "CKR_DEVICE_REMOVED",
		CKR_USER_NOT_LOGGED_IN: "CKR_USER_NOT_LOGGED_IN", CKR_BUFFER_TOO_SMALL: "CKR_BUFFER_TOO_SMALL",
		RV(0x12345): "CKR_0x00012345",
	}
	for rv, want := range cases {
		if rv.Error() != want {
			t.Fatalf("%#x: %q, want %q", ULong(rv), rv.Error(), want)
		}
	}
	err := fmt.Errorf("sign: %w", CKR_KEY_HANDLE_INVALID)
	var rv RV
	if !errors.As(err, &rv) || rv != CKR_KEY_HANDLE_INVALID || !errors.Is(err, CKR_KEY_HANDLE_INVALID) {
		t.Fatalf("wrapped RV not found: %v", err)
	}
}

func TestSpecValues(t *testing.T) {
	// a few values checked against the specification's tables by hand; the full
	// check against include/pkcs11t.h lives with the headers
	for name, c := range map[string][2]ULong{
		"CKA_ALLOWED_MECHANISMS":        {CKA_ALLOWED_MECHANISMS, 0x40000600},
		"CKA_PROFILE_ID":                {CKA_PROFILE_ID, 0x601},
		"CKO_PROFILE":                   {CKO_PROFILE, 9},
		"CKP_PUBLIC_CERTIFICATES_TOKEN": {CKP_PUBLIC_CERTIFICATES_TOKEN, 4},
		"CKM_SHA256_RSA_PKCS":           {CKM_SHA256_RSA_PKCS, 0x40},
		"CKM_SHA224_RSA_PKCS":           {CKM_SHA224_RSA_PKCS, 0x46},
		"CKF_USER_PIN_LOCKED":           {CKF_USER_PIN_LOCKED, 0x40000},
		"CKA_ALWAYS_AUTHENTICATE":       {CKA_ALWAYS_AUTHENTICATE, 0x202},
		"CKR_PIN_LOCKED":                {ULong(CKR_PIN_LOCKED), 0xA4},
	} {
		if c[0] != c[1] {
			t.Fatalf("%s = %#x, want %#x", name, c[0], c[1])
		}
	}
}
