/*
 * pkcs11.h: the PKCS#11 (Cryptoki) interface as used by jpki-pkcs11.
 *
 * Written for this project from the definitions in "PKCS #11 Cryptographic Token
 * Interface Base Specification" versions 2.40 and 3.0 (OASIS). Include this file
 * only; it sets the platform conventions and then includes pkcs11t.h (types,
 * structures, constants) and pkcs11f.h (the functions).
 *
 * Platform conventions (specification section 2.1 / "Structure packing"):
 *  - Windows: every Cryptoki structure is 1-byte packed (#pragma pack(push, 1)) and
 *    CK_ULONG is "unsigned long", i.e. 32 bits on Win64 (LLP64).
 *  - Unix: natural alignment, CK_ULONG is "unsigned long" (64 bits on LP64 Linux).
 *  Code that moves CK_ULONG values must use the C type, never assume its size.
 */
#ifndef JPKI_PKCS11_H
#define JPKI_PKCS11_H

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#pragma pack(push, 1)
#endif

/* Pointer to an object ("*" on every supported platform). */
#define CK_PTR *

/*
 * CK_DECLARE_FUNCTION(returnType, name): a Cryptoki function declaration. On Windows
 * the module that implements the functions defines CK_BUILD_MODULE so that every
 * C_* is exported from the DLL (and nothing else is: see module/exports.def).
 */
#if defined(_WIN32) && defined(CK_BUILD_MODULE)
#define CK_DECLARE_FUNCTION(returnType, name) __declspec(dllexport) returnType name
#else
#define CK_DECLARE_FUNCTION(returnType, name) returnType name
#endif

/* CK_DECLARE_FUNCTION_POINTER(returnType, name): a pointer to a Cryptoki function. */
#define CK_DECLARE_FUNCTION_POINTER(returnType, name) returnType (* name)

/* CK_CALLBACK_FUNCTION(returnType, name): a pointer to an application callback. */
#define CK_CALLBACK_FUNCTION(returnType, name) returnType (* name)

#ifndef NULL_PTR
#define NULL_PTR 0
#endif

#include "pkcs11t.h"
#include "pkcs11f.h"

/* Prototypes and CK_C_xxx function pointer types for every function. */
#define CK_X_DECLARE(name, args)                 \
	extern CK_DECLARE_FUNCTION(CK_RV, name) args; \
	typedef CK_DECLARE_FUNCTION_POINTER(CK_RV, CK_##name) args;
CK_PKCS11_FUNCTIONS_2_40(CK_X_DECLARE)
CK_PKCS11_FUNCTIONS_3_0(CK_X_DECLARE)
#undef CK_X_DECLARE

#define CK_X_MEMBER(name, args) CK_##name name;

/* CK_FUNCTION_LIST: version 2.40 function list (returned by C_GetFunctionList). */
struct CK_FUNCTION_LIST {
	CK_VERSION version;
	CK_PKCS11_FUNCTIONS_2_40(CK_X_MEMBER)
};

/* CK_FUNCTION_LIST_3_0: the 2.40 list followed by the functions new in 3.0. */
struct CK_FUNCTION_LIST_3_0 {
	CK_VERSION version;
	CK_PKCS11_FUNCTIONS_2_40(CK_X_MEMBER)
	CK_PKCS11_FUNCTIONS_3_0(CK_X_MEMBER)
};

#undef CK_X_MEMBER

#if defined(_WIN32)
#pragma pack(pop)
#endif

#ifdef __cplusplus
}
#endif

#endif /* JPKI_PKCS11_H */
