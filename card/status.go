package card

import (
	"errors"
	"fmt"
)

// StatusError is a status word other than 90 00. It is comparable, so
// errors.Is(err, ErrFileNotFound) works. A status word alone never means a wrong
// or blocked PIN: only the card's answer to a PIN command does (PINError).
type StatusError uint16

// Status words the JPKI application answers (ISO 7816-4).
const (
	ErrWrongLength      StatusError = 0x6700
	ErrSecurityStatus   StatusError = 0x6982 // security status not satisfied
	ErrAuthBlocked      StatusError = 0x6983
	ErrRefDataBlocked   StatusError = 0x6984 // PIN blocked (JPKI answers this)
	ErrConditionsOfUse  StatusError = 0x6985
	ErrWrongData        StatusError = 0x6A80
	ErrFileNotFound     StatusError = 0x6A82
	ErrIncorrectP1P2    StatusError = 0x6A86
	ErrOffsetOutOfRange StatusError = 0x6B00
	ErrINSNotSupported  StatusError = 0x6D00
	ErrCLANotSupported  StatusError = 0x6E00
)

// Sentinels for the card's refusals of a PIN. Only a PINError matches them: the
// answer to VERIFY with a PIN or to CHANGE REFERENCE DATA. The same status words
// in answer to anything else (a SELECT, a READ BINARY, a signature) are a device
// error, not a statement about a PIN.
var (
	ErrWrongPIN   = errors.New("wrong PIN")
	ErrPINBlocked = errors.New("PIN blocked")
)

func (e StatusError) Error() string {
	switch {
	case e&0xFFF0 == 0x63C0:
		return fmt.Sprintf("card: verification failed, counter %d (SW %04X)", int(e&0xF), uint16(e))
	}
	name := map[StatusError]string{
		ErrWrongLength: "wrong length", ErrSecurityStatus: "security status not satisfied",
		ErrAuthBlocked: "authentication method blocked", ErrRefDataBlocked: "reference data blocked",
		ErrConditionsOfUse: "conditions of use not satisfied", ErrWrongData: "wrong data",
		ErrFileNotFound: "file or application not found", ErrIncorrectP1P2: "incorrect P1 P2",
		ErrOffsetOutOfRange: "offset outside the file", ErrINSNotSupported: "instruction not supported",
		ErrCLANotSupported: "class not supported",
	}[e]
	if name == "" {
		name = "error"
	}
	return fmt.Sprintf("card: %s (SW %04X)", name, uint16(e))
}

// TriesLeft returns x of 63 Cx, and ok=false for other status words.
func (e StatusError) TriesLeft() (n int, ok bool) {
	if e&0xFFF0 == 0x63C0 {
		return int(e & 0xF), true
	}
	return 0, false
}

// pinStatus reports whether sw is one of the answers a PIN command gives about
// the PIN: 63 Cx (wrong, x tries left), 69 83 / 69 84 (blocked).
func pinStatus(sw StatusError) bool {
	_, wrong := sw.TriesLeft()
	return wrong || sw == ErrAuthBlocked || sw == ErrRefDataBlocked
}

// PINError is the card's refusal of a PIN: its answer 63 Cx, 69 83 or 69 84 to
// VERIFY with a PIN or to CHANGE REFERENCE DATA. It matches ErrWrongPIN (63 Cx)
// and ErrPINBlocked (69 83, 69 84, and 63 C0: the try that blocked it), and
// unwraps to the status word (errors.As(err, &se) then se.TriesLeft()).
type PINError struct {
	Key Key
	Op  string // "verify" or "change"
	SW  StatusError
}

func (e *PINError) Error() string {
	if n, ok := e.SW.TriesLeft(); ok {
		return fmt.Sprintf("card: %s %v PIN: wrong PIN, %d tries left (SW %04X)", e.Op, e.Key, n, uint16(e.SW))
	}
	return fmt.Sprintf("card: %s %v PIN: PIN blocked (SW %04X)", e.Op, e.Key, uint16(e.SW))
}

// Unwrap gives the status word.
func (e *PINError) Unwrap() error { return e.SW }

// Is lets the refusal match ErrWrongPIN and ErrPINBlocked.
func (e *PINError) Is(target error) bool {
	switch target {
	case ErrWrongPIN:
		_, ok := e.SW.TriesLeft()
		return ok
	case ErrPINBlocked:
		return e.SW == ErrRefDataBlocked || e.SW == ErrAuthBlocked || e.SW == 0x63C0
	}
	return false
}

// TriesLeft returns the tries the card said are left (ok=false when it said
// blocked without a counter).
func (e *PINError) TriesLeft() (int, bool) {
	if n, ok := e.SW.TriesLeft(); ok {
		return n, true
	}
	return 0, false
}
