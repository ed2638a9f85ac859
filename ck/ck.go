// Package ck holds the PKCS#11 constants, named as in the specification, and small
// helpers to encode CK_ULONG values in the platform's native layout. It has no cgo.
package ck

// ULong is a CK_ULONG seen from Go. module/ converts it to the platform's C size.
type ULong = uint64

// CK_UNAVAILABLE_INFORMATION is the ulValueLen given for an attribute that cannot be
// revealed or does not exist; CK_EFFECTIVELY_INFINITE is the "no limit" count.
const (
	CK_UNAVAILABLE_INFORMATION ULong = ^ULong(0)
	CK_EFFECTIVELY_INFINITE    ULong = 0
	CK_INVALID_HANDLE          ULong = 0
)

// Boolean values of a CK_BBOOL (one byte).
const (
	CK_FALSE byte = 0
	CK_TRUE  byte = 1
)

// EncodeULong returns v in native (little-endian) byte order, ULongSize bytes long.
func EncodeULong(v ULong) []byte {
	b := make([]byte, ULongSize)
	for i := range b {
		b[i] = byte(v >> (8 * i))
	}
	return b
}

// DecodeULong reads a CK_ULONG in native byte order; ok is false unless len(b) is
// exactly ULongSize.
func DecodeULong(b []byte) (v ULong, ok bool) {
	if len(b) != ULongSize {
		return 0, false
	}
	for i := len(b) - 1; i >= 0; i-- {
		v = v<<8 | ULong(b[i])
	}
	return v, true
}

// Bool encodes a CK_BBOOL.
func Bool(v bool) []byte {
	if v {
		return []byte{CK_TRUE}
	}
	return []byte{CK_FALSE}
}
