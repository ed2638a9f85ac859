/*
 * canon.h: the canonical text form in which the test host prints every PKCS#11
 * structure it gets across the module's ABI, one field per line ("key = value").
 * The same source is built for Windows (mingw, 1-byte packed structures, 32-bit
 * CK_ULONG) and Linux (natural alignment, 64-bit CK_ULONG): the two outputs must be
 * identical line for line, except lines whose key starts with '~' (handles, clock).
 */
#ifndef JPKI_CANON_H
#define JPKI_CANON_H

#include <stdio.h>
#include "pkcs11.h"

/* canon_open starts writing to path; all printers write there. */
int canon_open(const char *path);
void canon_close(void);

void put_line(const char *key, const char *fmt, ...);
void put_rv(const char *key, CK_RV rv);
void put_ulong(const char *key, CK_ULONG v);
void put_flags(const char *key, CK_FLAGS v);
void put_text(const char *key, const CK_UTF8CHAR *s, size_t n);
void put_hex(const char *key, const CK_BYTE *p, size_t n);
void put_version(const char *key, CK_VERSION v);

void put_info(const char *key, const CK_INFO *i);
void put_slot_info(const char *key, const CK_SLOT_INFO *i);
void put_token_info(const char *key, const CK_TOKEN_INFO *i);
void put_session_info(const char *key, const CK_SESSION_INFO *i);
void put_mechanism_info(const char *key, const CK_MECHANISM_INFO *i);
/* put_attribute prints one template entry after C_GetAttributeValue filled it. */
void put_attribute(const char *key, const CK_ATTRIBUTE *a);

#endif
