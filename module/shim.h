/*
 * shim.h: what the C shim and the Go exports share. Included by every .c file of
 * module/ and by the cgo preamble of the Go files (declarations only).
 *
 * The C side owns everything that touches a Cryptoki structure: on Windows those
 * structures are 1-byte packed with a 32-bit CK_ULONG, and cgo cannot address a
 * misaligned field. The Go side therefore sees only scalars, pointers to plain arrays
 * (CK_BYTE, CK_ULONG) and the naturally aligned jpki_* structs below, which C copies
 * into or out of the packed CK_* structs field by field, through the C types.
 */
#ifndef JPKI_SHIM_H
#define JPKI_SHIM_H

#include <stddef.h>
#include <stdint.h>
#include "pkcs11.h"

/* Version of this library in CK_INFO.libraryVersion (internal/version/VERSION). */
#include "version.h"

/* Natural-alignment mirrors of the output structures the Go side fills. Strings are
 * already padded to their fixed width by Go; every number is a uint64_t that C
 * narrows to CK_ULONG (CK_UNAVAILABLE_INFORMATION stays all ones). */
typedef struct jpki_slot_info {
	uint8_t description[64];
	uint8_t manufacturer[32];
	uint64_t flags;
	uint8_t hw_major, hw_minor, fw_major, fw_minor;
} jpki_slot_info;

typedef struct jpki_token_info {
	uint8_t label[32];
	uint8_t manufacturer[32];
	uint8_t model[16];
	uint8_t serial[16];
	uint64_t flags;
	uint64_t max_sessions, sessions, max_rw_sessions, rw_sessions;
	uint64_t max_pin, min_pin;
	uint64_t total_public, free_public, total_private, free_private;
	uint8_t hw_major, hw_minor, fw_major, fw_minor;
	uint8_t utc_time[16];
} jpki_token_info;

typedef struct jpki_mech_info {
	uint64_t min_key, max_key, flags;
} jpki_mech_info;

typedef struct jpki_session_info {
	uint64_t slot, state, flags, device_error;
} jpki_session_info;

/* One CK_ATTRIBUTE template entry as Go reads it. */
typedef struct jpki_attr {
	uint64_t type;
	void *value;
	uint64_t len;
} jpki_attr;

/* Template access for Go (defined in convert.c). */
void jpki_attr_get(CK_ATTRIBUTE_PTR tmpl, CK_ULONG i, jpki_attr *out);
void jpki_attr_set_len(CK_ATTRIBUTE_PTR tmpl, CK_ULONG i, CK_ULONG len);

/* Called by Go under its state lock when the library becomes initialised (1) or not
 * (0); the C side keeps the owning process id for the fork guard (general.c). */
void jpki_set_initialized(int on);

/* Returns CKR_OK when a call may enter Go: the library is initialised, and this is
 * the process that initialised it (fork guard, general.c). */
CK_RV jpki_guard(void);

/* The kinds of operation a session has (goArgumentsBad ends one of them). */
enum { JPKI_OP_SIGN = 1, JPKI_OP_VERIFY = 2, JPKI_OP_DIGEST = 3 };

/* Copies n bytes from src, which may point anywhere, into dst without faulting
 * (saferead.c): 0 when they were all readable, -1 otherwise. */
int jpki_safe_read(void *dst, const void *src, size_t n);

/* Copies the NUL-terminated string at src, which may point anywhere, into dst (size
 * bytes, NUL included) without faulting or reading past the string's page: its
 * length, or -1 when it is unreadable before its NUL or longer than size - 1. */
long jpki_safe_string(char *dst, size_t size, const void *src);

/* C_GetInterfaceList and C_GetInterface over the n interfaces of a table
 * (interfaces.c; jpki-pkcs11.so and jpki-pkcs11-auth.so each have theirs). */
CK_RV jpki_interface_list(const CK_INTERFACE *interfaces, CK_ULONG n, CK_INTERFACE_PTR pInterfacesList,
			  CK_ULONG_PTR pulCount);
CK_RV jpki_interface_find(CK_INTERFACE *interfaces, CK_ULONG n, CK_UTF8CHAR_PTR pInterfaceName,
			  CK_VERSION_PTR pVersion, CK_INTERFACE_PTR_PTR ppInterface, CK_FLAGS flags);

#endif /* JPKI_SHIM_H */
