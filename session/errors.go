package session

import (
	"context"
	"errors"

	"github.com/jpki-pkcs11/jpki-pkcs11/card"
	"github.com/jpki-pkcs11/jpki-pkcs11/ck"
)

// rvOf maps an error of the card layer (or an RV already chosen) to exactly one
// CK_RV. It is the only place where card errors become PKCS#11 codes.
func rvOf(err error) ck.RV {
	var rv ck.RV
	switch {
	case err == nil:
		return ck.CKR_OK
	case errors.As(err, &rv):
		return rv
	case errors.Is(err, card.ErrRemoved), errors.Is(err, card.ErrNoCard):
		return ck.CKR_DEVICE_REMOVED
	case errors.Is(err, card.ErrServiceGone), errors.Is(err, card.ErrNoReader):
		// the PC/SC service (or the reader) went away: the card is out of reach
		return ck.CKR_DEVICE_REMOVED
	case errors.Is(err, card.ErrNotLoggedIn):
		return ck.CKR_USER_NOT_LOGGED_IN
	case errors.Is(err, card.ErrPINFormat):
		return ck.CKR_PIN_INCORRECT
	case errors.Is(err, card.ErrPINBlocked):
		return ck.CKR_PIN_LOCKED
	case errors.Is(err, card.ErrWrongPIN):
		return ck.CKR_PIN_INCORRECT
	case errors.Is(err, card.ErrTimeout):
		// another application holds the card longer than our bound
		return ck.CKR_DEVICE_ERROR
	case errors.Is(err, card.ErrNoAnswer):
		// the card never answered a command: from now on it shows as removed
		return ck.CKR_DEVICE_ERROR
	case errors.Is(err, card.ErrReset):
		return ck.CKR_USER_NOT_LOGGED_IN
	case errors.Is(err, card.ErrNoJPKI):
		return ck.CKR_TOKEN_NOT_RECOGNIZED
	case errors.Is(err, card.ErrNotYetSupported):
		// a card generation whose commands are not known (next generation)
		return ck.CKR_TOKEN_NOT_RECOGNIZED
	case errors.Is(err, context.Canceled):
		return ck.CKR_CRYPTOKI_NOT_INITIALIZED
	}
	var se card.StatusError
	if errors.As(err, &se) {
		return ck.CKR_DEVICE_ERROR
	}
	return ck.CKR_DEVICE_ERROR
}

// removal reports whether err means the card (or PC/SC) is gone, so the card's
// state and sessions must be dropped.
func removal(err error) bool {
	return errors.Is(err, card.ErrRemoved) || errors.Is(err, card.ErrNoCard) ||
		errors.Is(err, card.ErrServiceGone) || errors.Is(err, card.ErrNoReader)
}
