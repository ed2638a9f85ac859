package main

/*
#include "shim.h"
*/
import "C"

import (
	"unsafe"

	"github.com/jpki-pkcs11/jpki-pkcs11/ck"
	"github.com/jpki-pkcs11/jpki-pkcs11/session"
)

// goFindObjectsInit is C_FindObjectsInit: the template (any attributes) is copied.
//
//export goFindObjectsInit
func goFindObjectsInit(h C.CK_ULONG, tmpl C.CK_ATTRIBUTE_PTR, n C.CK_ULONG) C.CK_RV {
	return call("C_FindObjectsInit", func(m *session.Manager) error {
		attrs, err := readTemplate(tmpl, n)
		if err != nil {
			return err
		}
		return m.FindObjectsInit(ul(h), attrs)
	}, "session", ul(h), "attributes", ul(n))
}

// goFindObjects is C_FindObjects (pulObjectCount non-NULL, checked in C).
//
//export goFindObjects
func goFindObjects(h C.CK_ULONG, out *C.CK_ULONG, max C.CK_ULONG, count *C.CK_ULONG) C.CK_RV {
	return call("C_FindObjects", func(m *session.Manager) error {
		limit := min(uint64(max), maxObjects)
		found, err := m.FindObjects(ul(h), int(limit))
		if err != nil {
			return err
		}
		if uint64(len(found)) > limit {
			found = found[:limit]
		}
		if len(found) > 0 {
			dst := unsafe.Slice(out, len(found))
			for i, o := range found {
				dst[i] = cul(o)
			}
		}
		*count = C.CK_ULONG(len(found))
		return nil
	}, "session", ul(h))
}

// goFindObjectsFinal is C_FindObjectsFinal.
//
//export goFindObjectsFinal
func goFindObjectsFinal(h C.CK_ULONG) C.CK_RV {
	return call("C_FindObjectsFinal", func(m *session.Manager) error {
		return m.FindObjectsFinal(ul(h))
	}, "session", ul(h))
}

// goGetAttributeValue is C_GetAttributeValue. Every template entry is answered:
// a sensitive or unknown attribute gets CK_UNAVAILABLE_INFORMATION, a NULL pValue
// gets the length, a short buffer gets CK_UNAVAILABLE_INFORMATION. The result is
// CKR_OK, or the first of CKR_ATTRIBUTE_SENSITIVE, CKR_ATTRIBUTE_TYPE_INVALID,
// CKR_BUFFER_TOO_SMALL that some entry earned (the specification lets a library
// return any of them).
//
//export goGetAttributeValue
func goGetAttributeValue(h, obj C.CK_ULONG, tmpl C.CK_ATTRIBUTE_PTR, n C.CK_ULONG) C.CK_RV {
	return call("C_GetAttributeValue", func(m *session.Manager) error {
		types, err := templateTypes(tmpl, n)
		if err != nil {
			return err
		}
		vals, err := m.GetAttributeValue(ul(h), ul(obj), types)
		if err != nil {
			return err
		}
		if len(vals) != len(types) {
			return ck.CKR_GENERAL_ERROR
		}
		var sensitive, invalid, small bool
		for i, v := range vals {
			ci := C.CK_ULONG(i)
			var a C.jpki_attr
			C.jpki_attr_get(tmpl, ci, &a)
			switch {
			case v.Err == ck.CKR_ATTRIBUTE_SENSITIVE:
				sensitive = true
				C.jpki_attr_set_len(tmpl, ci, cul(ck.CK_UNAVAILABLE_INFORMATION))
			case v.Err != ck.CKR_OK:
				invalid = true
				C.jpki_attr_set_len(tmpl, ci, cul(ck.CK_UNAVAILABLE_INFORMATION))
			case a.value == nil:
				C.jpki_attr_set_len(tmpl, ci, C.CK_ULONG(len(v.Value)))
			case uint64(a.len) < uint64(len(v.Value)):
				small = true
				C.jpki_attr_set_len(tmpl, ci, cul(ck.CK_UNAVAILABLE_INFORMATION))
			default:
				if len(v.Value) > 0 {
					copy(unsafe.Slice((*byte)(a.value), len(v.Value)), v.Value)
				}
				C.jpki_attr_set_len(tmpl, ci, C.CK_ULONG(len(v.Value)))
			}
		}
		switch {
		case sensitive:
			return ck.CKR_ATTRIBUTE_SENSITIVE
		case invalid:
			return ck.CKR_ATTRIBUTE_TYPE_INVALID
		case small:
			return ck.CKR_BUFFER_TOO_SMALL
		}
		return nil
	}, "session", ul(h), "object", ul(obj), "attributes", ul(n))
}

// goGetObjectSize is C_GetObjectSize (pulSize non-NULL, checked in C): the
// object's encoded size (session.ObjectSize).
//
//export goGetObjectSize
func goGetObjectSize(h, obj C.CK_ULONG, size *C.CK_ULONG) C.CK_RV {
	return call("C_GetObjectSize", func(m *session.Manager) error {
		n, err := m.ObjectSize(ul(h), ul(obj))
		if err != nil {
			return err
		}
		*size = cul(n)
		return nil
	}, "session", ul(h), "object", ul(obj))
}

// goWriteProtected answers C_CreateObject, C_CopyObject, C_SetAttributeValue and
// C_DestroyObject (name) after their argument checks in C: the session must exist,
// and the token is write-protected.
//
//export goWriteProtected
func goWriteProtected(name *C.char, h C.CK_ULONG) C.CK_RV {
	return call(C.GoString(name), func(m *session.Manager) error {
		if _, err := m.SessionInfo(ul(h)); err != nil {
			return err
		}
		return ck.CKR_TOKEN_WRITE_PROTECTED
	}, "session", ul(h))
}
