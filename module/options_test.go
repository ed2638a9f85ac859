package main

import "testing"

func TestAuthEntry(t *testing.T) {
	for params, want := range map[string]bool{
		"jpki-entry=auth":               true,
		"jpki-entry=auth tokens=sign":   true,
		"configdir='x' jpki-entry=auth": true,
		"JPKI-ENTRY=AUTH":               true,
		"":                              false,
		"tokens=auth":                   false,
		"jpki-entry=authx":              false,
		"xjpki-entry=auth":              false,
	} {
		if got := authEntry(params); got != want {
			t.Errorf("authEntry(%q) = %v, want %v", params, got, want)
		}
	}
}
