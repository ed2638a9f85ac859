package main

/*
#include "shim.h"
*/
import "C"

import (
	"unicode/utf8"
	"unsafe"

	"github.com/jpki-pkcs11/jpki-pkcs11/ck"
	"github.com/jpki-pkcs11/jpki-pkcs11/session"
)

// Bounds on what the module copies from the caller: values larger than these cannot
// be meaningful for this card, and copying them could exhaust memory (which a Go
// runtime cannot recover from).
const (
	maxTemplate  = 1 << 12 // attributes in one template
	maxAttrValue = 1 << 20 // bytes in one template value (a certificate is ~2 KiB)
	maxParam     = 1 << 12 // bytes of a mechanism parameter
	maxPIN       = 64      // bytes of a PIN; longer ones are malformed anyway
	maxObjects   = 1 << 16 // handles returned by one C_FindObjects
	randomChunk  = 1 << 16 // bytes of C_GenerateRandom asked of the session at once
)

// ul converts a C CK_ULONG (32 or 64 bits) to a ck.ULong.
func ul(v C.CK_ULONG) ck.ULong { return ck.ULong(v) }

// cul converts a ck.ULong to the platform's CK_ULONG. On Windows (32-bit CK_ULONG)
// the high half is dropped, which keeps CK_UNAVAILABLE_INFORMATION all ones.
func cul(v ck.ULong) C.CK_ULONG { return C.CK_ULONG(v) }

// inBytes views a caller's input buffer (the C side checked that p is not NULL
// unless n is 0). The slice aliases C memory: use it only during the call.
func inBytes(p *C.CK_BYTE, n C.CK_ULONG) []byte {
	if p == nil || n == 0 {
		return []byte{}
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(p)), uint64(n))
}

// copyPIN copies a PIN out of the caller's buffer into Go memory the module owns
// (and wipes after the call). A PIN longer than maxPIN is not read at all: the
// session refuses it locally as malformed, from a placeholder of that length.
func copyPIN(p *C.CK_UTF8CHAR, n C.CK_ULONG) []byte {
	if uint64(n) > maxPIN {
		return make([]byte, maxPIN+1)
	}
	b := make([]byte, int(n))
	copy(b, inBytes((*C.CK_BYTE)(p), n))
	return b
}

// wipe clears a PIN copy.
func wipe(b []byte) { clear(b) }

// pad writes s into the fixed-width field dst, padded with spaces. Widths count
// bytes; a string that does not fit is cut at a UTF-8 boundary.
func pad(dst []byte, s string) {
	if len(s) > len(dst) {
		cut := len(dst)
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	n := copy(dst, s)
	for i := n; i < len(dst); i++ {
		dst[i] = ' '
	}
}

// field views a fixed-width uint8_t array of a jpki_* struct as a byte slice.
func field[T any](p *T) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(p)), unsafe.Sizeof(*p))
}

// mechanism builds a session.Mechanism, copying the parameter as raw bytes in the
// platform's native layout; session/ decodes it. For CKM_*_RSA_PKCS_PSS the
// parameter is a CK_RSA_PKCS_PSS_PARAMS: three CK_ULONGs (hashAlg, mgf, sLen), each
// ck.ULongSize bytes (8 on Linux, 4 on Windows), no padding on either ABI.
func mechanism(typ C.CK_ULONG, param unsafe.Pointer, n C.CK_ULONG) (session.Mechanism, error) {
	if uint64(n) > maxParam {
		return session.Mechanism{}, ck.CKR_MECHANISM_PARAM_INVALID
	}
	m := session.Mechanism{Type: ul(typ)}
	if param != nil && n > 0 {
		m.Param = C.GoBytes(param, C.int(n))
	}
	return m, nil
}

// readTemplate copies a CK_ATTRIBUTE template (types and values) into Go memory.
func readTemplate(t C.CK_ATTRIBUTE_PTR, n C.CK_ULONG) ([]session.Attribute, error) {
	if uint64(n) > maxTemplate {
		return nil, ck.CKR_ARGUMENTS_BAD
	}
	attrs := make([]session.Attribute, 0, int(n))
	for i := C.CK_ULONG(0); i < n; i++ {
		var a C.jpki_attr
		C.jpki_attr_get(t, i, &a)
		switch {
		case uint64(a.len) > maxAttrValue:
			return nil, ck.CKR_ATTRIBUTE_VALUE_INVALID
		case a.value == nil && a.len != 0:
			return nil, ck.CKR_ARGUMENTS_BAD
		}
		v := []byte{}
		if a.len > 0 {
			v = C.GoBytes(a.value, C.int(a.len))
		}
		attrs = append(attrs, session.Attribute{Type: ck.ULong(a._type), Value: v})
	}
	return attrs, nil
}

// templateTypes reads only the attribute types of a template.
func templateTypes(t C.CK_ATTRIBUTE_PTR, n C.CK_ULONG) ([]ck.ULong, error) {
	if uint64(n) > maxTemplate {
		return nil, ck.CKR_ARGUMENTS_BAD
	}
	types := make([]ck.ULong, int(n))
	for i := range types {
		var a C.jpki_attr
		C.jpki_attr_get(t, C.CK_ULONG(i), &a)
		types[i] = ck.ULong(a._type)
	}
	return types, nil
}

// writeULongs answers a "list" call with the buffer protocol: a NULL list gets the
// count, a list shorter than the count gets CKR_BUFFER_TOO_SMALL with the count,
// otherwise the values are copied.
func writeULongs(list *C.CK_ULONG, count *C.CK_ULONG, vals []ck.ULong) error {
	need := uint64(len(vals))
	if list == nil {
		*count = C.CK_ULONG(need)
		return nil
	}
	if uint64(*count) < need {
		*count = C.CK_ULONG(need)
		return ck.CKR_BUFFER_TOO_SMALL
	}
	out := unsafe.Slice(list, len(vals))
	for i, v := range vals {
		out[i] = cul(v)
	}
	*count = C.CK_ULONG(need)
	return nil
}

// sizeQuery runs the first half of the output buffer protocol: with a NULL buffer it
// answers the length; with a buffer smaller than need it answers the length and
// CKR_BUFFER_TOO_SMALL (the operation stays active). done is true when the call is
// answered and the operation must not run.
func sizeQuery(buf *C.CK_BYTE, bufLen *C.CK_ULONG, need int) (done bool, err error) {
	if buf == nil {
		*bufLen = C.CK_ULONG(need)
		return true, nil
	}
	if uint64(*bufLen) < uint64(need) {
		*bufLen = C.CK_ULONG(need)
		return true, ck.CKR_BUFFER_TOO_SMALL
	}
	return false, nil
}

// writeOut copies an operation's result into the caller's buffer, which sizeQuery
// found large enough for the announced length. A result longer than announced
// (which the session must never produce) is an error, never an overflow.
func writeOut(buf *C.CK_BYTE, bufLen *C.CK_ULONG, out []byte) error {
	if uint64(len(out)) > uint64(*bufLen) {
		return ck.CKR_GENERAL_ERROR
	}
	if len(out) > 0 {
		copy(unsafe.Slice((*byte)(unsafe.Pointer(buf)), len(out)), out)
	}
	*bufLen = C.CK_ULONG(len(out))
	return nil
}
