package card

import (
	"errors"
	"fmt"
)

// StatusError is a status word other than 90 00. It is comparable, so
// errors.Is(err, ErrFileNotFound) works; 63 Cx matches ErrWrongPIN and
// 69 84 / 69 83 match ErrPINBlocked.
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

// Sentinels for classes of status words.
var (
	ErrWrongPIN   = errors.New("wrong PIN")
	ErrPINBlocked = errors.New("PIN blocked")
)

func (e StatusError) Error() string {
	switch {
	case e&0xFFF0 == 0x63C0:
		return fmt.Sprintf("card: wrong PIN, %d tries left (SW %04X)", int(e&0xF), uint16(e))
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

// Is lets 63 Cx match ErrWrongPIN (and 63 C0 also ErrPINBlocked), 69 83/69 84 ErrPINBlocked.
func (e StatusError) Is(target error) bool {
	switch target {
	case ErrWrongPIN:
		return e&0xFFF0 == 0x63C0
	case ErrPINBlocked:
		return e == ErrRefDataBlocked || e == ErrAuthBlocked || e == 0x63C0
	}
	return false
}

// TriesLeft returns x of 63 Cx, and ok=false for other status words.
func (e StatusError) TriesLeft() (n int, ok bool) {
	if e&0xFFF0 == 0x63C0 {
		return int(e & 0xF), true
	}
	return 0, false
}
