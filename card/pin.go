package card

import (
	"errors"
	"fmt"
)

// ErrPINFormat is returned (wrapped) for a PIN that breaks the format rules; such a
// PIN never reaches the card.
var ErrPINFormat = errors.New("PIN format")

// CheckPIN validates a PIN for key k and returns the bytes to send: the
// authentication PIN must be exactly 4 digits; the signature password 6 to 16 of
// A-Z and 0-9, lower case folded to upper case. The result is a fresh slice the
// caller must Wipe after use; pin itself is not modified.
func CheckPIN(k Key, pin []byte) ([]byte, error) {
	switch k {
	case AuthKey:
		if len(pin) != 4 {
			return nil, fmt.Errorf("%w: the authentication PIN has exactly 4 digits, got %d characters", ErrPINFormat, len(pin))
		}
		for _, b := range pin {
			if b < '0' || b > '9' {
				return nil, fmt.Errorf("%w: the authentication PIN has digits only", ErrPINFormat)
			}
		}
		return append([]byte(nil), pin...), nil
	case SignKey:
		if len(pin) < 6 || len(pin) > 16 {
			return nil, fmt.Errorf("%w: the signature password has 6 to 16 characters, got %d", ErrPINFormat, len(pin))
		}
		out := make([]byte, len(pin))
		for i, b := range pin {
			switch {
			case b >= 'a' && b <= 'z':
				out[i] = b - 'a' + 'A'
			case b >= 'A' && b <= 'Z', b >= '0' && b <= '9':
				out[i] = b
			default:
				Wipe(out)
				return nil, fmt.Errorf("%w: the signature password has only letters A-Z and digits 0-9", ErrPINFormat)
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: unknown key %d", ErrPINFormat, k)
}

// Wipe overwrites b with zeros.
func Wipe(b []byte) {
	for i := range b {
		b[i] = 0
	}
}
