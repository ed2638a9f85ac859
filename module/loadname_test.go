package main

import "testing"

func TestIsAuthEntryPoint(t *testing.T) {
	for path, want := range map[string]bool{
		"/usr/lib/x86_64-linux-gnu/pkcs11/jpki-pkcs11-auth.so": true,
		"build/jpki-pkcs11-auth.so":                            true,
		`C:\Program Files\JPKI\jpki-pkcs11-auth.dll`:           true,
		"/usr/lib/x86_64-linux-gnu/pkcs11/jpki-pkcs11.so":      false,
		"/tmp/jpki-pkcs11-auth.so.bak":                         false,
		"/tmp/jpki-pkcs11-authx.so":                            false,
		"jpki-pkcs11-auth":                                     false,
		"":                                                     false,
	} {
		if got := isAuthEntryPoint(path); got != want {
			t.Errorf("isAuthEntryPoint(%q) = %v, want %v", path, got, want)
		}
	}
}
