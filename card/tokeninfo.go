// The identification files: EF 0006 (token information) and EF 0008 (which
// certificates are present).

package card

import (
	"encoding/binary"
	"strings"
)

// TokenInfoSize is the size of EF 0006 on the cards seen (shared/JPKI.md §8): a
// CK_TOKEN_INFO serialised with 32-bit big-endian CK_ULONG fields.
const TokenInfoSize = 160

// Offsets of the fields of EF 0006.
const (
	tiLabel               = 0
	tiManuf               = 32
	tiModel               = 64
	TokenInfoSerialOffset = 80 // serial number, 16 characters
	tiFlags               = 96
	tiMaxPIN              = 116
	tiMinPIN              = 120
	tiHWVer               = 140
	tiFWVer               = 142
)

// TokenInfo is what EF 0006 says, as far as the bytes read reach. Strings are
// trimmed of trailing spaces and NULs, non-printable bytes dropped.
type TokenInfo struct {
	Length       int // bytes read
	Label        string
	Manufacturer string
	Model        string
	Serial       string
	// HasFields: the file reaches past the strings (flags, PIN lengths, versions).
	HasFields                        bool
	Flags                            uint32
	MaxPINLen, MinPINLen             uint32
	HardwareVersion, FirmwareVersion [2]byte
}

// ParseTokenInfo decodes EF 0006; any bytes are accepted (fields the file does
// not reach stay empty).
func ParseTokenInfo(b []byte) TokenInfo {
	str := func(off, n int) string {
		if len(b) <= off {
			return ""
		}
		return printable(b[off:min(len(b), off+n)])
	}
	ti := TokenInfo{Length: len(b), Label: ParseTokenLabel(b), Manufacturer: str(tiManuf, 32),
		Model: str(tiModel, 16), Serial: str(TokenInfoSerialOffset, 16)}
	if len(b) >= tiFWVer+2 {
		ti.HasFields = true
		ti.Flags = binary.BigEndian.Uint32(b[tiFlags:])
		ti.MaxPINLen = binary.BigEndian.Uint32(b[tiMaxPIN:])
		ti.MinPINLen = binary.BigEndian.Uint32(b[tiMinPIN:])
		copy(ti.HardwareVersion[:], b[tiHWVer:])
		copy(ti.FirmwareVersion[:], b[tiFWVer:])
	}
	return ti
}

// SerialUsable reports whether the token-info serial can tell one token from
// another: not empty and not all zeros.
func (ti TokenInfo) SerialUsable() bool {
	return strings.Trim(ti.Serial, "0 ") != ""
}

// ParseTokenLabel returns the label of EF 0006: the first 32 bytes, trailing
// spaces and NULs trimmed, non-printable bytes dropped.
func ParseTokenLabel(b []byte) string {
	if len(b) > 32 {
		b = b[:32]
	}
	return printable(b)
}

// printable keeps the printable ASCII bytes of b and trims trailing spaces.
func printable(b []byte) string {
	out := make([]byte, 0, len(b))
	for _, ch := range b {
		if ch >= 0x20 && ch < 0x7F {
			out = append(out, ch)
		}
	}
	for len(out) > 0 && out[len(out)-1] == ' ' {
		out = out[:len(out)-1]
	}
	return string(out)
}

// PresentCert is the value of an EF 0008 byte for a present certificate on the
// cards seen (8F 8F 00 on a card with both, shared/JPKI.md §8).
const PresentCert = 0x8F

// ParsePresence decodes EF 0008: byte 0 non-zero = signature certificate present,
// byte 1 non-zero = authentication certificate present. 8F is the value seen for
// a present certificate; any other non-zero value is taken as present too (see
// PresenceUnexplained). A short or missing file says the authentication
// certificate is present and the signature one is not known to be.
func ParsePresence(b []byte) (sign, auth bool) {
	if len(b) < 2 {
		return len(b) == 1 && b[0] != 0, true
	}
	return b[0] != 0, b[1] != 0
}

// PresenceUnexplained reports whether the two presence bytes of EF 0008 hold a
// value other than 00 (absent) or 8F (present): such a value is taken as present,
// and worth a line in the log.
func PresenceUnexplained(b []byte) bool {
	for _, v := range b[:min(len(b), 2)] {
		if v != 0 && v != PresentCert {
			return true
		}
	}
	return false
}
