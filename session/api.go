// Package session maps PC/SC readers to PKCS#11 slots and tokens, and runs
// sessions, login and operations on top of the card layer. It has no cgo:
// module/ calls it. Every error it returns is a ck.RV.
package session

import (
	"log/slog"

	"github.com/jpki-pkcs11/jpki-pkcs11/card"
	"github.com/jpki-pkcs11/jpki-pkcs11/ck"
)

// Config configures a Manager.
type Config struct {
	System card.System  // nil: pcsc.New()
	Log    *slog.Logger // nil: discard. Never log a PIN.
	// Tokens selects which tokens of each card are shown (zero: both). Showing
	// one only is the user's way out when a client asks for every token's PIN.
	Tokens Tokens
}

// Tokens selects the tokens a Manager shows.
type Tokens int

// Token selections.
const (
	BothTokens Tokens = iota // authentication and signature
	AuthOnly                 // the authentication token only
	SignOnly                 // the signature token only
)

// Version is a CK_VERSION.
type Version struct{ Major, Minor byte }

// SlotInfo is a CK_SLOT_INFO (strings unpadded; module/ pads them).
type SlotInfo struct {
	Description, Manufacturer        string
	Flags                            ck.ULong
	HardwareVersion, FirmwareVersion Version
}

// TokenInfo is a CK_TOKEN_INFO (strings unpadded; module/ pads them).
type TokenInfo struct {
	Label, Manufacturer, Model, SerialNumber string
	Flags                                    ck.ULong
	MaxSessionCount, SessionCount, MaxRwSessionCount, RwSessionCount, MaxPinLen, MinPinLen,
	TotalPublicMemory, FreePublicMemory, TotalPrivateMemory, FreePrivateMemory ck.ULong
	HardwareVersion, FirmwareVersion Version
	UTCTime                          string
}

// MechanismInfo is a CK_MECHANISM_INFO.
type MechanismInfo struct{ MinKeySize, MaxKeySize, Flags ck.ULong }

// SessionInfo is a CK_SESSION_INFO.
type SessionInfo struct{ SlotID, State, Flags, DeviceError ck.ULong }

// Mechanism is a CK_MECHANISM; Param holds the raw bytes of the C parameter
// struct in native layout.
type Mechanism struct {
	Type  ck.ULong
	Param []byte
}

// Attribute is a CK_ATTRIBUTE of a template (Value in native encoding).
type Attribute struct {
	Type  ck.ULong
	Value []byte
}

// AttrValue is one answer of GetAttributeValue. Err is CKR_OK,
// CKR_ATTRIBUTE_SENSITIVE or CKR_ATTRIBUTE_TYPE_INVALID.
type AttrValue struct {
	Value []byte
	Err   ck.RV
}
