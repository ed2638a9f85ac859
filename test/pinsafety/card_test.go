package pinsafety

import (
	"errors"
	"fmt"
	"testing"

	"github.com/jpki-pkcs11/jpki-pkcs11/card"
	"github.com/jpki-pkcs11/jpki-pkcs11/test/harness"
)

// TestMalformedPINsNeverReachTheCard: through card/pcsc and card.Card, every
// malformed PIN of each key is refused with ErrPINFormat before any APDU (for
// VERIFY and for both PINs of a PIN change); pcscd's APDU log shows no VERIFY or
// CHANGE REFERENCE DATA with data; no retry counter moves (card and state.json).
func TestMalformedPINsNeverReachTheCard(t *testing.T) {
	c, dir := startCard(t, 0)
	cd := pc.Connect(t, 0)
	for _, k := range []card.Key{card.AuthKey, card.SignKey} {
		good := authPIN
		if k == card.SignKey {
			good = signPIN
		}
		before, err := cd.TriesLeft(k)
		if err != nil || before != k.MaxTries() {
			t.Fatalf("%v tries before: %d %v", k, before, err)
		}
		stateBefore := harness.ReadCardState(t, dir)
		mark := pc.Mark()
		vcardBefore := len(vcardVerifyWithData.FindAllString(c.Log(), -1))
		for _, pin := range malformed(k) {
			t.Run(fmt.Sprintf("%v/%q", k, pin), func(t *testing.T) {
				apdus := cd.APDUs()
				if err := cd.Verify(k, []byte(pin)); !errors.Is(err, card.ErrPINFormat) {
					t.Errorf("Verify(%q): %v, want ErrPINFormat", pin, err)
				}
				if err := cd.ChangePIN(k, []byte(pin), []byte(good)); !errors.Is(err, card.ErrPINFormat) {
					t.Errorf("ChangePIN(old %q): %v, want ErrPINFormat", pin, err)
				}
				if err := cd.ChangePIN(k, []byte(good), []byte(pin)); !errors.Is(err, card.ErrPINFormat) {
					t.Errorf("ChangePIN(new %q): %v, want ErrPINFormat", pin, err)
				}
				if n := cd.APDUs() - apdus; n != 0 {
					t.Errorf("%d APDUs sent for a malformed PIN", n)
				}
			})
		}
		after, err := cd.TriesLeft(k) // also the marker that the log is written up to here
		if err != nil || after != before {
			t.Fatalf("%v tries after the malformed PINs: %d %v, want %d", k, after, err, before)
		}
		settle(t, mark)
		if n := countAPDUs(t, mark, anyPINData); n != 0 {
			t.Errorf("%v: pcscd logged %d VERIFY/CHANGE commands with data for malformed PINs", k, n)
		}
		if n := len(vcardVerifyWithData.FindAllString(c.Log(), -1)) - vcardBefore; n != 0 {
			t.Errorf("%v: the card logged %d VERIFY/CHANGE commands with data", k, n)
		}
		if s := harness.ReadCardState(t, dir); s != stateBefore {
			t.Errorf("%v: state.json counters moved: %+v -> %+v", k, stateBefore, s)
		}
	}
}

// TestWrongPINCostsExactlyOneTry: a wrong well-formed PIN sends exactly one
// VERIFY with data and costs exactly one try (card and state.json); the error
// says how many are left; a good PIN then sends exactly one VERIFY and restores
// the counter. Lower case for the signature password is folded, not refused.
func TestWrongPINCostsExactlyOneTry(t *testing.T) {
	c, dir := startCard(t, 1)
	cd := pc.Connect(t, 1)
	for _, tc := range []struct {
		k           card.Key
		wrong, good string
	}{
		{card.AuthKey, wrongAuthPIN, authPIN},
		{card.SignKey, wrongSignPIN, signPIN},
		{card.SignKey, "qwerty7390", "qwerty7391"},
	} {
		t.Run(fmt.Sprintf("%v/%s", tc.k, tc.wrong), func(t *testing.T) {
			before, err := cd.TriesLeft(tc.k)
			if err != nil || before != tc.k.MaxTries() {
				t.Fatalf("tries before: %d %v", before, err)
			}
			mark := pc.Mark()
			err = cd.Verify(tc.k, []byte(tc.wrong))
			var se card.StatusError
			if !errors.Is(err, card.ErrWrongPIN) || !errors.As(err, &se) {
				t.Fatalf("wrong PIN: %v, want ErrWrongPIN", err)
			}
			if n, ok := se.TriesLeft(); !ok || n != before-1 {
				t.Errorf("wrong PIN error says %d tries left, want %d", n, before-1)
			}
			after, err := cd.TriesLeft(tc.k)
			if err != nil || after != before-1 {
				t.Fatalf("tries after a wrong PIN: %d %v, want %d", after, err, before-1)
			}
			oneVerify(t, mark, "one wrong PIN")
			wantStateTries(t, dir, tc.k, before-1)

			mark = pc.Mark()
			if err := cd.Verify(tc.k, []byte(tc.good)); err != nil {
				t.Fatalf("good PIN: %v", err)
			}
			if n, err := cd.TriesLeft(tc.k); err != nil || n != tc.k.MaxTries() {
				t.Fatalf("tries after the good PIN: %d %v", n, err)
			}
			oneVerify(t, mark, "one good PIN")
			wantStateTries(t, dir, tc.k, tc.k.MaxTries())
		})
	}
	// No PIN (good, wrong, in any form) in the card's own log.
	noPIN(t, "the virtual card's --log", c.Log(), authPIN, signPIN, wrongAuthPIN, wrongSignPIN)
}
