/*
 * canon.c: printers for the canonical text form (see canon.h). Values that are
 * CK_ULONG on the wire are printed as numbers, never as raw bytes, so that the
 * Windows (4-byte) and Linux (8-byte) forms compare equal when the module is right;
 * a CK_ULONG attribute whose length is not sizeof(CK_ULONG) prints as an error.
 */
#include <stdarg.h>
#include <string.h>
#include "canon.h"

static FILE *out;

int canon_open(const char *path)
{
	out = fopen(path, "wb");
	return out != NULL;
}

void canon_close(void)
{
	if (out) fclose(out);
	out = NULL;
}

void put_line(const char *key, const char *fmt, ...)
{
	va_list ap;

	if (!out) return;
	fprintf(out, "%s = ", key);
	va_start(ap, fmt);
	vfprintf(out, fmt, ap);
	va_end(ap);
	fputc('\n', out);
	fflush(out);
}

void put_rv(const char *key, CK_RV rv) { put_line(key, "rv 0x%08lX", (unsigned long)rv); }

void put_ulong(const char *key, CK_ULONG v)
{
	if (v == CK_UNAVAILABLE_INFORMATION) put_line(key, "unavailable");
	else put_line(key, "%lu", (unsigned long)v);
}

void put_flags(const char *key, CK_FLAGS v) { put_line(key, "0x%08lX", (unsigned long)v); }

/* put_text prints a fixed-width or counted UTF-8 field byte for byte (quoted, non-ASCII escaped). */
void put_text(const char *key, const CK_UTF8CHAR *s, size_t n)
{
	char buf[1024];
	size_t i, k = 0;

	buf[k++] = '"';
	for (i = 0; i < n && k < sizeof(buf) - 6; i++) {
		if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"' && s[i] != '\\') buf[k++] = (char)s[i];
		else k += (size_t)snprintf(buf + k, sizeof(buf) - k, "\\x%02X", s[i]);
	}
	buf[k++] = '"';
	buf[k] = 0;
	put_line(key, "%s", buf);
}

void put_hex(const char *key, const CK_BYTE *p, size_t n)
{
	static char buf[2 * 8192 + 1];
	size_t i;

	if (n > 8192) n = 8192;
	for (i = 0; i < n; i++) snprintf(buf + 2 * i, 3, "%02X", p[i]);
	buf[2 * n] = 0;
	put_line(key, "%s", n ? buf : "(empty)");
}

void put_version(const char *key, CK_VERSION v) { put_line(key, "%u.%u", v.major, v.minor); }

static void sub(char *buf, size_t n, const char *key, const char *field)
{
	/* a '~' (ignored field) goes in front of the whole key */
	if (field[0] == '~') snprintf(buf, n, "~%s.%s", key, field + 1);
	else snprintf(buf, n, "%s.%s", key, field);
}

#define K(f) (sub(k, sizeof(k), key, f), k)

void put_info(const char *key, const CK_INFO *i)
{
	char k[256];
	put_version(K("cryptokiVersion"), i->cryptokiVersion);
	put_text(K("manufacturerID"), i->manufacturerID, sizeof(i->manufacturerID));
	put_flags(K("flags"), i->flags);
	put_text(K("libraryDescription"), i->libraryDescription, sizeof(i->libraryDescription));
	put_version(K("libraryVersion"), i->libraryVersion);
}

void put_slot_info(const char *key, const CK_SLOT_INFO *i)
{
	char k[256];
	put_text(K("slotDescription"), i->slotDescription, sizeof(i->slotDescription));
	put_text(K("manufacturerID"), i->manufacturerID, sizeof(i->manufacturerID));
	put_flags(K("flags"), i->flags);
	put_version(K("hardwareVersion"), i->hardwareVersion);
	put_version(K("firmwareVersion"), i->firmwareVersion);
}

void put_token_info(const char *key, const CK_TOKEN_INFO *i)
{
	char k[256];
	put_text(K("label"), i->label, sizeof(i->label));
	put_text(K("manufacturerID"), i->manufacturerID, sizeof(i->manufacturerID));
	put_text(K("model"), i->model, sizeof(i->model));
	put_text(K("serialNumber"), i->serialNumber, sizeof(i->serialNumber));
	put_flags(K("flags"), i->flags);
	put_ulong(K("ulMaxSessionCount"), i->ulMaxSessionCount);
	put_ulong(K("ulSessionCount"), i->ulSessionCount);
	put_ulong(K("ulMaxRwSessionCount"), i->ulMaxRwSessionCount);
	put_ulong(K("ulRwSessionCount"), i->ulRwSessionCount);
	put_ulong(K("ulMaxPinLen"), i->ulMaxPinLen);
	put_ulong(K("ulMinPinLen"), i->ulMinPinLen);
	put_ulong(K("ulTotalPublicMemory"), i->ulTotalPublicMemory);
	put_ulong(K("ulFreePublicMemory"), i->ulFreePublicMemory);
	put_ulong(K("ulTotalPrivateMemory"), i->ulTotalPrivateMemory);
	put_ulong(K("ulFreePrivateMemory"), i->ulFreePrivateMemory);
	put_version(K("hardwareVersion"), i->hardwareVersion);
	put_version(K("firmwareVersion"), i->firmwareVersion);
	put_text(K("~utcTime"), i->utcTime, sizeof(i->utcTime));
}

void put_session_info(const char *key, const CK_SESSION_INFO *i)
{
	char k[256];
	put_ulong(K("slotID"), i->slotID);
	put_ulong(K("state"), i->state);
	put_flags(K("flags"), i->flags);
	put_ulong(K("ulDeviceError"), i->ulDeviceError);
}

void put_mechanism_info(const char *key, const CK_MECHANISM_INFO *i)
{
	char k[256];
	put_ulong(K("ulMinKeySize"), i->ulMinKeySize);
	put_ulong(K("ulMaxKeySize"), i->ulMaxKeySize);
	put_flags(K("flags"), i->flags);
}

enum kind { BYTES, TEXT, ULONG, BOOL, DATE, ULONGS };

static enum kind kind_of(CK_ATTRIBUTE_TYPE t)
{
	switch (t) {
	case CKA_CLASS: case CKA_KEY_TYPE: case CKA_CERTIFICATE_TYPE: case CKA_CERTIFICATE_CATEGORY:
	case CKA_MODULUS_BITS: case CKA_PROFILE_ID: case CKA_KEY_GEN_MECHANISM:
	case CKA_NAME_HASH_ALGORITHM: case CKA_JAVA_MIDP_SECURITY_DOMAIN:
		return ULONG;
	case CKA_TOKEN: case CKA_PRIVATE: case CKA_MODIFIABLE: case CKA_COPYABLE: case CKA_DESTROYABLE:
	case CKA_TRUSTED: case CKA_SENSITIVE: case CKA_ENCRYPT: case CKA_DECRYPT: case CKA_WRAP:
	case CKA_UNWRAP: case CKA_SIGN: case CKA_SIGN_RECOVER: case CKA_VERIFY: case CKA_VERIFY_RECOVER:
	case CKA_DERIVE: case CKA_EXTRACTABLE: case CKA_LOCAL: case CKA_NEVER_EXTRACTABLE:
	case CKA_ALWAYS_SENSITIVE: case CKA_ALWAYS_AUTHENTICATE: case CKA_WRAP_WITH_TRUSTED:
		return BOOL;
	case CKA_LABEL: case CKA_APPLICATION: case CKA_URL:
		return TEXT;
	case CKA_START_DATE: case CKA_END_DATE:
		return DATE;
	case CKA_ALLOWED_MECHANISMS:
		return ULONGS;
	default:
		return BYTES;
	}
}

void put_attribute(const char *key, const CK_ATTRIBUTE *a)
{
	const CK_BYTE *p = a->pValue;
	CK_ULONG n = a->ulValueLen, i;
	char buf[2048];
	size_t k = 0;

	if (n == CK_UNAVAILABLE_INFORMATION) { put_line(key, "unavailable"); return; }
	if (!p) { /* a size query: CK_ULONG sizes differ by platform, so name them */
		if (kind_of(a->type) == ULONG && n == sizeof(CK_ULONG)) put_line(key, "len CK_ULONG");
		else if (kind_of(a->type) == ULONGS && n % sizeof(CK_ULONG) == 0)
			put_line(key, "len %lu CK_ULONG", (unsigned long)(n / sizeof(CK_ULONG)));
		else put_line(key, "len %lu", (unsigned long)n);
		return;
	}
	switch (kind_of(a->type)) {
	case ULONG:
		if (n != sizeof(CK_ULONG)) put_line(key, "BAD CK_ULONG length %lu", (unsigned long)n);
		else put_ulong(key, *(const CK_ULONG *)p);
		return;
	case BOOL:
		if (n != 1) put_line(key, "BAD CK_BBOOL length %lu", (unsigned long)n);
		else put_line(key, "bool %u", p[0]);
		return;
	case DATE:
		if (n != 0 && n != sizeof(CK_DATE)) put_line(key, "BAD CK_DATE length %lu", (unsigned long)n);
		else put_text(key, p, n);
		return;
	case TEXT:
		put_text(key, p, n);
		return;
	case ULONGS:
		if (n % sizeof(CK_ULONG)) { put_line(key, "BAD CK_ULONG array length %lu", (unsigned long)n); return; }
		buf[0] = 0;
		for (i = 0; i < n / sizeof(CK_ULONG) && k < sizeof(buf) - 16; i++)
			k += (size_t)snprintf(buf + k, sizeof(buf) - k, "%s0x%lX", i ? " " : "", (unsigned long)((const CK_ULONG *)p)[i]);
		put_line(key, "[%s]", buf);
		return;
	default:
		put_hex(key, p, n);
	}
}
