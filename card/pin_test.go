package card

import (
	"errors"
	"testing"
)

func TestCheckPIN(t *testing.T) {
	for _, tc := range []struct {
		k    Key
		pin  string
		want string // "" = refused
	}{
		{AuthKey, "1234", "1234"},
		{AuthKey, "0000", "0000"},
		{AuthKey, "123", ""},
		{AuthKey, "12345", ""},
		{AuthKey, "", ""},
		{AuthKey, "12a4", ""},
		{AuthKey, "12 4", ""},
		{AuthKey, "１２３４", ""}, // full-width digits
		{SignKey, "ABC123", "ABC123"},
		{SignKey, "abc123", "ABC123"},
		{SignKey, "Ab1234567890CDEF", "AB1234567890CDEF"},
		{SignKey, "ABC12", ""},
		{SignKey, "ABC1234567890DEFG", ""},
		{SignKey, "ABC 123", ""},
		{SignKey, "AB#123", ""},
		{SignKey, "ABC\x00123", ""},
		{SignKey, "ÄBC123", ""},
		{Key(9), "1234", ""},
	} {
		in := []byte(tc.pin)
		got, err := CheckPIN(tc.k, in)
		if tc.want == "" {
			if err == nil || !errors.Is(err, ErrPINFormat) {
				t.Errorf("%v %q: accepted (%v)", tc.k, tc.pin, err)
			}
			continue
		}
		if err != nil || string(got) != tc.want {
			t.Errorf("%v %q: got %q, %v", tc.k, tc.pin, got, err)
		}
		if string(in) != tc.pin {
			t.Errorf("%v %q: input modified", tc.k, tc.pin)
		}
	}
}

func TestWipe(t *testing.T) {
	b := []byte("1234")
	Wipe(b)
	for _, c := range b {
		if c != 0 {
			t.Fatal("not wiped")
		}
	}
}
