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

// operations maps the C side's JPKI_OP_* to the session's kinds of operation.
var operations = map[C.int]session.Operation{
	C.JPKI_OP_SIGN:   session.SignOperation,
	C.JPKI_OP_VERIFY: session.VerifyOperation,
	C.JPKI_OP_DIGEST: session.DigestOperation,
}

// goArgumentsBad answers CKR_ARGUMENTS_BAD for a call of an operation (name) whose
// pointer or length arguments the C side refused: a NULL output length, or a NULL
// buffer with a non-zero length. The session's active operation of that kind ends
// first, as the specification says an error ends it.
//
//export goArgumentsBad
func goArgumentsBad(name *C.char, h C.CK_ULONG, op C.int) C.CK_RV {
	fn := C.GoString(name)
	return call(fn, func(m *session.Manager) error {
		ended := m.EndOperation(ul(h), operations[op])
		logger().Info(fn+": a NULL output length, or a NULL buffer with a non-zero length",
			"session", ul(h), "operation ended", ended)
		return ck.CKR_ARGUMENTS_BAD
	}, "session", ul(h))
}

// goSignInit is C_SignInit (pMechanism checked in C; its parameter is copied raw).
//
//export goSignInit
func goSignInit(h, mech C.CK_ULONG, param unsafe.Pointer, paramLen C.CK_ULONG, key C.CK_ULONG) C.CK_RV {
	return call("C_SignInit", func(m *session.Manager) error {
		mm, err := mechanism(mech, param, paramLen)
		if err != nil {
			return err
		}
		return m.SignInit(ul(h), mm, ul(key))
	}, "session", ul(h), "mechanism", ul(mech), "key", ul(key))
}

// goSign is C_Sign. Size queries and short buffers are answered from SignLength,
// without signing; the operation then stays active.
//
//export goSign
func goSign(h C.CK_ULONG, data *C.CK_BYTE, dataLen C.CK_ULONG, sig *C.CK_BYTE, sigLen *C.CK_ULONG) C.CK_RV {
	return call("C_Sign", func(m *session.Manager) error {
		n, err := m.SignLength(ul(h))
		if err != nil {
			return err
		}
		if done, err := sizeQuery(sig, sigLen, n); done {
			return err
		}
		out, err := m.Sign(ul(h), inBytes(data, dataLen))
		if err != nil {
			return err
		}
		return writeOut(sig, sigLen, out)
	}, "session", ul(h), "len", ul(dataLen))
}

// goSignUpdate is C_SignUpdate.
//
//export goSignUpdate
func goSignUpdate(h C.CK_ULONG, part *C.CK_BYTE, n C.CK_ULONG) C.CK_RV {
	return call("C_SignUpdate", func(m *session.Manager) error {
		return m.SignUpdate(ul(h), inBytes(part, n))
	}, "session", ul(h), "len", ul(n))
}

// goSignFinal is C_SignFinal, with the same buffer protocol as goSign.
//
//export goSignFinal
func goSignFinal(h C.CK_ULONG, sig *C.CK_BYTE, sigLen *C.CK_ULONG) C.CK_RV {
	return call("C_SignFinal", func(m *session.Manager) error {
		n, err := m.SignLength(ul(h))
		if err != nil {
			return err
		}
		if done, err := sizeQuery(sig, sigLen, n); done {
			return err
		}
		out, err := m.SignFinal(ul(h))
		if err != nil {
			return err
		}
		return writeOut(sig, sigLen, out)
	}, "session", ul(h))
}

// goVerifyInit is C_VerifyInit.
//
//export goVerifyInit
func goVerifyInit(h, mech C.CK_ULONG, param unsafe.Pointer, paramLen C.CK_ULONG, key C.CK_ULONG) C.CK_RV {
	return call("C_VerifyInit", func(m *session.Manager) error {
		mm, err := mechanism(mech, param, paramLen)
		if err != nil {
			return err
		}
		return m.VerifyInit(ul(h), mm, ul(key))
	}, "session", ul(h), "mechanism", ul(mech), "key", ul(key))
}

// goVerify is C_Verify.
//
//export goVerify
func goVerify(h C.CK_ULONG, data *C.CK_BYTE, dataLen C.CK_ULONG, sig *C.CK_BYTE, sigLen C.CK_ULONG) C.CK_RV {
	return call("C_Verify", func(m *session.Manager) error {
		return m.Verify(ul(h), inBytes(data, dataLen), inBytes(sig, sigLen))
	}, "session", ul(h), "len", ul(dataLen))
}

// goVerifyUpdate is C_VerifyUpdate.
//
//export goVerifyUpdate
func goVerifyUpdate(h C.CK_ULONG, part *C.CK_BYTE, n C.CK_ULONG) C.CK_RV {
	return call("C_VerifyUpdate", func(m *session.Manager) error {
		return m.VerifyUpdate(ul(h), inBytes(part, n))
	}, "session", ul(h), "len", ul(n))
}

// goVerifyFinal is C_VerifyFinal.
//
//export goVerifyFinal
func goVerifyFinal(h C.CK_ULONG, sig *C.CK_BYTE, sigLen C.CK_ULONG) C.CK_RV {
	return call("C_VerifyFinal", func(m *session.Manager) error {
		return m.VerifyFinal(ul(h), inBytes(sig, sigLen))
	}, "session", ul(h))
}

// goDigestInit is C_DigestInit.
//
//export goDigestInit
func goDigestInit(h, mech C.CK_ULONG, param unsafe.Pointer, paramLen C.CK_ULONG) C.CK_RV {
	return call("C_DigestInit", func(m *session.Manager) error {
		mm, err := mechanism(mech, param, paramLen)
		if err != nil {
			return err
		}
		return m.DigestInit(ul(h), mm)
	}, "session", ul(h), "mechanism", ul(mech))
}

// goDigest is C_Digest, answering size queries from DigestLength.
//
//export goDigest
func goDigest(h C.CK_ULONG, data *C.CK_BYTE, dataLen C.CK_ULONG, dig *C.CK_BYTE, digLen *C.CK_ULONG) C.CK_RV {
	return call("C_Digest", func(m *session.Manager) error {
		n, err := m.DigestLength(ul(h))
		if err != nil {
			return err
		}
		if done, err := sizeQuery(dig, digLen, n); done {
			return err
		}
		out, err := m.Digest(ul(h), inBytes(data, dataLen))
		if err != nil {
			return err
		}
		return writeOut(dig, digLen, out)
	}, "session", ul(h), "len", ul(dataLen))
}

// goDigestUpdate is C_DigestUpdate.
//
//export goDigestUpdate
func goDigestUpdate(h C.CK_ULONG, part *C.CK_BYTE, n C.CK_ULONG) C.CK_RV {
	return call("C_DigestUpdate", func(m *session.Manager) error {
		return m.DigestUpdate(ul(h), inBytes(part, n))
	}, "session", ul(h), "len", ul(n))
}

// goDigestFinal is C_DigestFinal, with the same buffer protocol as goDigest.
//
//export goDigestFinal
func goDigestFinal(h C.CK_ULONG, dig *C.CK_BYTE, digLen *C.CK_ULONG) C.CK_RV {
	return call("C_DigestFinal", func(m *session.Manager) error {
		n, err := m.DigestLength(ul(h))
		if err != nil {
			return err
		}
		if done, err := sizeQuery(dig, digLen, n); done {
			return err
		}
		out, err := m.DigestFinal(ul(h))
		if err != nil {
			return err
		}
		return writeOut(dig, digLen, out)
	}, "session", ul(h))
}

// goGenerateRandom is C_GenerateRandom. Large requests are served in chunks written
// straight into the caller's buffer, so no length makes the module allocate much.
//
//export goGenerateRandom
func goGenerateRandom(h C.CK_ULONG, buf *C.CK_BYTE, n C.CK_ULONG) C.CK_RV {
	return call("C_GenerateRandom", func(m *session.Manager) error {
		total := uint64(n)
		if total == 0 {
			_, err := m.GenerateRandom(ul(h), 0)
			return err
		}
		base := unsafe.Pointer(buf)
		for done := uint64(0); done < total; {
			chunk := min(total-done, randomChunk)
			b, err := m.GenerateRandom(ul(h), int(chunk))
			if err != nil {
				return err
			}
			if uint64(len(b)) != chunk {
				return ck.CKR_GENERAL_ERROR
			}
			copy(unsafe.Slice((*byte)(unsafe.Add(base, uintptr(done))), chunk), b)
			done += chunk
		}
		return nil
	}, "session", ul(h), "len", ul(n))
}

// goSeedRandom is C_SeedRandom. The seed is never used: a token without an RNG
// answers CKR_RANDOM_NO_RNG (as C_GenerateRandom does; pkcs11test and pkcs11-tool
// expect that pair), one with an RNG CKR_RANDOM_SEED_NOT_SUPPORTED (it is the
// operating system's generator, which takes no seed from callers). An empty
// GenerateRandom asks the session which case holds, and checks the handle.
//
//export goSeedRandom
func goSeedRandom(h C.CK_ULONG) C.CK_RV {
	return call("C_SeedRandom", func(m *session.Manager) error {
		if _, err := m.GenerateRandom(ul(h), 0); err != nil {
			return err
		}
		return ck.CKR_RANDOM_SEED_NOT_SUPPORTED
	}, "session", ul(h))
}
