package session

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jpki-pkcs11/jpki-pkcs11/card"
	"github.com/jpki-pkcs11/jpki-pkcs11/ck"
)

func TestRVOf(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want ck.RV
	}{
		{nil, ck.CKR_OK},
		{ck.CKR_KEY_HANDLE_INVALID, ck.CKR_KEY_HANDLE_INVALID},
		{fmt.Errorf("x: %w", card.ErrRemoved), ck.CKR_DEVICE_REMOVED},
		{card.ErrNoCard, ck.CKR_DEVICE_REMOVED},
		{card.ErrServiceGone, ck.CKR_DEVICE_REMOVED},
		{card.ErrNoReader, ck.CKR_DEVICE_REMOVED},
		{card.ErrTimeout, ck.CKR_DEVICE_ERROR},
		{card.ErrReset, ck.CKR_USER_NOT_LOGGED_IN},
		{fmt.Errorf("%w: %w", card.ErrNotLoggedIn, card.ErrSecurityStatus), ck.CKR_USER_NOT_LOGGED_IN},
		{fmt.Errorf("%w: too short", card.ErrPINFormat), ck.CKR_PIN_INCORRECT},
		// the card's refusal of a PIN (its answer to VERIFY or CHANGE REFERENCE DATA)
		{fmt.Errorf("login: %w", &card.PINError{Key: card.AuthKey, Op: "verify", SW: 0x63C2}), ck.CKR_PIN_INCORRECT},
		{&card.PINError{Key: card.AuthKey, Op: "verify", SW: 0x63C0}, ck.CKR_PIN_LOCKED},
		{&card.PINError{Key: card.SignKey, Op: "change", SW: card.ErrRefDataBlocked}, ck.CKR_PIN_LOCKED},
		{&card.PINError{Key: card.SignKey, Op: "verify", SW: card.ErrAuthBlocked}, ck.CKR_PIN_LOCKED},
		// the same status words in answer to anything else: a device error (issue 16)
		{fmt.Errorf("select EF 0018: %w", card.StatusError(0x63C2)), ck.CKR_DEVICE_ERROR},
		{fmt.Errorf("sign: %w", card.StatusError(0x63C0)), ck.CKR_DEVICE_ERROR},
		{card.ErrRefDataBlocked, ck.CKR_DEVICE_ERROR},
		{card.ErrAuthBlocked, ck.CKR_DEVICE_ERROR},
		{card.ErrNoJPKI, ck.CKR_TOKEN_NOT_RECOGNIZED},
		{card.ErrWrongLength, ck.CKR_DEVICE_ERROR},
		{context.Canceled, ck.CKR_CRYPTOKI_NOT_INITIALIZED},
		{errors.New("anything else"), ck.CKR_DEVICE_ERROR},
	} {
		if got := rvOf(tc.err); got != tc.want {
			t.Errorf("rvOf(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
