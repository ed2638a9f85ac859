package cli

import (
	"errors"
	"fmt"

	"github.com/jpki-pkcs11/jpki-pkcs11/card"
)

// blockedError: the PIN of the key is blocked.
type blockedError struct{ k card.Key }

func (e blockedError) Error() string {
	return fmt.Sprintf("%s blocked: only your municipal office can reset it (bring the card and an identity document). Nothing was sent to the card", pinName(e.k))
}

func (e blockedError) Is(target error) bool { return target == card.ErrPINBlocked }

// pinFormatError: the PIN breaks the format rule; nothing was sent.
type pinFormatError struct {
	k   card.Key
	err error
}

func (e pinFormatError) Error() string {
	return fmt.Sprintf("%s refused before anything was sent to the card (no try used): it must be %s", pinName(e.k), pinRule(e.k))
}

func (e pinFormatError) Unwrap() error { return e.err }

// wrongPINError: the card refused the PIN.
type wrongPINError struct {
	k    card.Key
	left int
	err  error
}

func (e wrongPINError) Error() string {
	switch e.left {
	case 0:
		return fmt.Sprintf("wrong %s: it is now blocked; only your municipal office can reset it", pinName(e.k))
	case 1:
		return fmt.Sprintf("wrong %s: 1 try left. A wrong PIN next time blocks it: if unsure, ask your municipal office instead of guessing", pinName(e.k))
	}
	return fmt.Sprintf("wrong %s: %d tries left", pinName(e.k), e.left)
}

func (e wrongPINError) Unwrap() error { return e.err }

// pinError turns a Verify/ChangePIN error into one that says what happened.
func pinError(k card.Key, err error) error {
	var se card.StatusError
	switch {
	case errors.Is(err, card.ErrPINFormat):
		return pinFormatError{k, err}
	case errors.As(err, &se) && errors.Is(err, card.ErrWrongPIN):
		n, _ := se.TriesLeft()
		return wrongPINError{k, n, err}
	case errors.Is(err, card.ErrPINBlocked):
		return blockedError{k}
	}
	return err
}

// explain says what happened and what to do, for the errors a user meets.
func explain(err error) string {
	var (
		bl blockedError
		pf pinFormatError
		wp wrongPINError
	)
	switch {
	case errors.As(err, &bl), errors.As(err, &pf), errors.As(err, &wp):
		return err.Error()
	case errors.Is(err, card.ErrServiceGone):
		return "the smart card service (pcscd) is not running: start it (systemctl start pcscd.socket) and try again"
	case errors.Is(err, card.ErrNoReader):
		return "no smart card reader found: connect a reader (and check that pcscd is running)"
	case errors.Is(err, card.ErrNoCard):
		return fmt.Sprintf("%v: insert your My Number Card (chip side up for a contact reader) and try again", err)
	case errors.Is(err, card.ErrRemoved):
		return "the card was removed during the operation: insert it again and rerun the command"
	case errors.Is(err, card.ErrTimeout):
		return "the card is busy: another application is using it; close that application and try again"
	case errors.Is(err, card.ErrReset), errors.Is(err, card.ErrNotLoggedIn):
		return "another application used the card meanwhile and the card forgot the PIN check: run the command again (no PIN try was lost)"
	case errors.Is(err, card.ErrNoJPKI):
		return fmt.Sprintf("%v: this is not a My Number Card (or its JPKI application is missing; a next-generation My Number Card, whose commands are not published yet, also shows so: not yet supported)", err)
	case errors.Is(err, card.ErrNotYetSupported):
		return fmt.Sprintf("%v: this looks like a My Number Card of the next generation, which is not yet supported (its commands are not published; only the virtual next-generation card is)", err)
	}
	return err.Error()
}

// unknownJPKI says what follows for a My Number Card whose JPKI application this
// version does not know (card.KindUnknownJPKI): this version cannot use it, not
// yet (a next-generation card), with the reason a generation gave.
func unknownJPKI(info card.Info) string {
	s := "this version cannot use it: " + card.NotYetSupported
	if info.Reason != "" {
		s += "; " + info.Reason
	}
	return s
}

// nextGeneration says which generation speaks to a card that is not of today's
// generation, and that its commands are assumed.
func nextGeneration(c card.Generation) string {
	return fmt.Sprintf("next (%v keys; its commands are assumptions, tested on the virtual next-generation card only)", c.Algorithm())
}
