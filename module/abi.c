/*
 * abi.c: compile-time checks of the Cryptoki structure layouts this shim was
 * written for. Windows (x86-64): 1-byte packing and a 32-bit CK_ULONG; LP64 Unix:
 * natural alignment and a 64-bit CK_ULONG. A wrong header or compiler setting stops
 * the build here instead of corrupting a caller's memory.
 */
#include <stddef.h>
#include "shim.h"

#define ABI_ASSERT(cond) _Static_assert(cond, #cond)

ABI_ASSERT(sizeof(CK_BYTE) == 1 && sizeof(CK_VERSION) == 2);
ABI_ASSERT(sizeof(CK_ULONG) == sizeof(unsigned long));

#if defined(_WIN32) && defined(_WIN64)
ABI_ASSERT(sizeof(CK_ULONG) == 4);
ABI_ASSERT(sizeof(CK_INFO) == 2 + 32 + 4 + 32 + 2);
ABI_ASSERT(sizeof(CK_SLOT_INFO) == 64 + 32 + 4 + 2 + 2);
ABI_ASSERT(sizeof(CK_TOKEN_INFO) == 32 + 32 + 16 + 16 + 11 * 4 + 2 + 2 + 16);
ABI_ASSERT(sizeof(CK_SESSION_INFO) == 4 * 4);
ABI_ASSERT(sizeof(CK_ATTRIBUTE) == 4 + 8 + 4 && offsetof(CK_ATTRIBUTE, pValue) == 4);
ABI_ASSERT(sizeof(CK_MECHANISM) == 4 + 8 + 4 && offsetof(CK_MECHANISM, pParameter) == 4);
ABI_ASSERT(sizeof(CK_MECHANISM_INFO) == 3 * 4);
ABI_ASSERT(sizeof(CK_C_INITIALIZE_ARGS) == 4 * 8 + 4 + 8);
ABI_ASSERT(sizeof(CK_INTERFACE) == 8 + 8 + 4);
ABI_ASSERT(sizeof(CK_RSA_PKCS_PSS_PARAMS) == 3 * 4);
ABI_ASSERT(offsetof(CK_FUNCTION_LIST, C_Initialize) == 2);
#elif defined(__LP64__)
ABI_ASSERT(sizeof(CK_ULONG) == 8);
ABI_ASSERT(sizeof(CK_INFO) == 88);
ABI_ASSERT(sizeof(CK_TOKEN_INFO) == 208);
ABI_ASSERT(sizeof(CK_ATTRIBUTE) == 24 && offsetof(CK_ATTRIBUTE, pValue) == 8);
ABI_ASSERT(sizeof(CK_MECHANISM) == 24);
ABI_ASSERT(sizeof(CK_C_INITIALIZE_ARGS) == 6 * 8);
ABI_ASSERT(sizeof(CK_INTERFACE) == 24);
ABI_ASSERT(sizeof(CK_RSA_PKCS_PSS_PARAMS) == 3 * 8);
ABI_ASSERT(offsetof(CK_FUNCTION_LIST, C_Initialize) == 8);
#endif

/* The function lists: a version, then one pointer per function (68 and 92). */
ABI_ASSERT(sizeof(CK_FUNCTION_LIST) == offsetof(CK_FUNCTION_LIST, C_Initialize) + 68 * sizeof(void *));
ABI_ASSERT(sizeof(CK_FUNCTION_LIST_3_0) ==
	   offsetof(CK_FUNCTION_LIST_3_0, C_Initialize) + 92 * sizeof(void *));
ABI_ASSERT(offsetof(CK_FUNCTION_LIST_3_0, C_GetInterfaceList) ==
	   offsetof(CK_FUNCTION_LIST_3_0, C_Initialize) + 68 * sizeof(void *));
