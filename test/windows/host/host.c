/*
 * host: the cross-ABI test host. One source, built twice: for Windows with mingw-w64
 * (run under Wine against build/jpki-pkcs11.dll) and for Linux with gcc (against
 * build/jpki-pkcs11.so). It loads the module as any application does, walks through
 * slots, tokens, objects (before and after login), a signature with each key (RSA,
 * or ECDSA on the next card generation), a wrong PIN (exactly one try) and unloads
 * the module, printing every structure that crosses the ABI in the canonical form of
 * canon.h. run.sh compares the two outputs. It ends with C_Finalize while a thread is
 * blocked in C_WaitForSlotEvent (the module's SCardCancel path: winscard.dll's under
 * Wine).
 *
 * Usage: host MODULE OUTFILE OUTDIR   (PINs in JPKI_AUTH_PIN, JPKI_SIGN_PIN, JPKI_WRONG_PIN)
 * OUTDIR receives auth.der/auth.sig, sign.der/sign.sig and data.bin for openssl (an
 * ECDSA key's .sig is r||s of SHA-384; its .rawsig r||s of the SHA-384 hash in
 * data.sha384, made with CKM_ECDSA).
 * Exit status: the number of failed expectations (0 = all met).
 */
#ifndef _WIN32
#define _GNU_SOURCE /* pthread_timedjoin_np */
#endif
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _WIN32
#include <windows.h>
#else
#include <dlfcn.h>
#include <pthread.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#endif
#include "pkcs11.h"
#include "canon.h"

#ifdef _WIN32
/* The specification's Windows layout: 1-byte packing, 32-bit CK_ULONG, 64-bit pointers. */
_Static_assert(sizeof(CK_ULONG) == 4, "CK_ULONG is 32 bits on Win64");
_Static_assert(sizeof(CK_INFO) == 72 && offsetof(CK_INFO, flags) == 34, "CK_INFO packed");
_Static_assert(sizeof(CK_SLOT_INFO) == 104 && offsetof(CK_SLOT_INFO, flags) == 96, "CK_SLOT_INFO packed");
_Static_assert(sizeof(CK_TOKEN_INFO) == 160 && offsetof(CK_TOKEN_INFO, ulMinPinLen) == 120, "CK_TOKEN_INFO packed");
_Static_assert(sizeof(CK_SESSION_INFO) == 16 && sizeof(CK_MECHANISM_INFO) == 12, "session/mechanism info");
_Static_assert(sizeof(CK_ATTRIBUTE) == 16 && offsetof(CK_ATTRIBUTE, pValue) == 4, "CK_ATTRIBUTE packed");
_Static_assert(sizeof(CK_MECHANISM) == 16 && offsetof(CK_MECHANISM, pParameter) == 4, "CK_MECHANISM packed");
_Static_assert(offsetof(CK_FUNCTION_LIST, C_Initialize) == 2, "CK_FUNCTION_LIST packed");
_Static_assert(sizeof(CK_C_INITIALIZE_ARGS) == 44, "CK_C_INITIALIZE_ARGS packed");
typedef HMODULE lib_t;
#define lib_open(p) LoadLibraryA(p)
#define lib_sym(l, n) ((void *)GetProcAddress(l, n))
#define lib_close(l) (FreeLibrary(l) ? 0 : -1)
#else
typedef void *lib_t;
#define lib_open(p) dlopen(p, RTLD_NOW | RTLD_LOCAL)
#define lib_sym(l, n) dlsym(l, n)
#define lib_close(l) dlclose(l)
#endif

#define MAX_SLOTS 16
#define MAX_OBJS 64

static CK_FUNCTION_LIST *f;
static const char *outdir;
static int failures;
static const CK_BYTE data[] = "jpki-pkcs11 cross-ABI test: the same bytes signed on Windows and Linux\n";

static void session_info(const char *key, CK_SESSION_HANDLE s);
static void sign_pss(const char *key, const char *name, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE priv, CK_OBJECT_HANDLE pub);
static void sign_ec(const char *key, const char *name, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE priv, CK_OBJECT_HANDLE pub);
static CK_KEY_TYPE key_type(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o);

static void expect(int ok, const char *what)
{
	if (ok) return;
	failures++;
	put_line("FAIL", "%s", what);
	fprintf(stderr, "host: FAIL: %s\n", what);
}

static void save(const char *name, const void *p, size_t n)
{
	char path[1024];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", outdir, name);
	fp = fopen(path, "wb");
	expect(fp && fwrite(p, 1, n, fp) == n, "write a file into OUTDIR");
	if (fp) fclose(fp);
}

static const struct { CK_ATTRIBUTE_TYPE t; const char *name; } attrs[] = {
	{ CKA_CLASS, "CKA_CLASS" }, { CKA_TOKEN, "CKA_TOKEN" }, { CKA_PRIVATE, "CKA_PRIVATE" },
	{ CKA_LABEL, "CKA_LABEL" }, { CKA_ID, "CKA_ID" }, { CKA_MODIFIABLE, "CKA_MODIFIABLE" },
	{ CKA_COPYABLE, "CKA_COPYABLE" }, { CKA_DESTROYABLE, "CKA_DESTROYABLE" },
	{ CKA_CERTIFICATE_TYPE, "CKA_CERTIFICATE_TYPE" }, { CKA_CERTIFICATE_CATEGORY, "CKA_CERTIFICATE_CATEGORY" },
	{ CKA_TRUSTED, "CKA_TRUSTED" }, { CKA_VALUE, "CKA_VALUE" }, { CKA_SUBJECT, "CKA_SUBJECT" },
	{ CKA_ISSUER, "CKA_ISSUER" }, { CKA_SERIAL_NUMBER, "CKA_SERIAL_NUMBER" },
	{ CKA_START_DATE, "CKA_START_DATE" }, { CKA_END_DATE, "CKA_END_DATE" },
	{ CKA_KEY_TYPE, "CKA_KEY_TYPE" }, { CKA_SENSITIVE, "CKA_SENSITIVE" },
	{ CKA_EXTRACTABLE, "CKA_EXTRACTABLE" }, { CKA_SIGN, "CKA_SIGN" }, { CKA_VERIFY, "CKA_VERIFY" },
	{ CKA_SIGN_RECOVER, "CKA_SIGN_RECOVER" }, { CKA_VERIFY_RECOVER, "CKA_VERIFY_RECOVER" },
	{ CKA_ENCRYPT, "CKA_ENCRYPT" }, { CKA_DECRYPT, "CKA_DECRYPT" }, { CKA_WRAP, "CKA_WRAP" },
	{ CKA_UNWRAP, "CKA_UNWRAP" }, { CKA_DERIVE, "CKA_DERIVE" }, { CKA_LOCAL, "CKA_LOCAL" },
	{ CKA_ALWAYS_AUTHENTICATE, "CKA_ALWAYS_AUTHENTICATE" }, { CKA_ALWAYS_SENSITIVE, "CKA_ALWAYS_SENSITIVE" },
	{ CKA_NEVER_EXTRACTABLE, "CKA_NEVER_EXTRACTABLE" }, { CKA_KEY_GEN_MECHANISM, "CKA_KEY_GEN_MECHANISM" },
	{ CKA_MODULUS, "CKA_MODULUS" }, { CKA_MODULUS_BITS, "CKA_MODULUS_BITS" },
	{ CKA_PUBLIC_EXPONENT, "CKA_PUBLIC_EXPONENT" }, { CKA_PRIVATE_EXPONENT, "CKA_PRIVATE_EXPONENT" },
	{ CKA_PRIME_1, "CKA_PRIME_1" }, { CKA_PUBLIC_KEY_INFO, "CKA_PUBLIC_KEY_INFO" },
	{ CKA_EC_PARAMS, "CKA_EC_PARAMS" }, { CKA_EC_POINT, "CKA_EC_POINT" },
	{ CKA_ALLOWED_MECHANISMS, "CKA_ALLOWED_MECHANISMS" }, { CKA_PROFILE_ID, "CKA_PROFILE_ID" },
	{ CKA_HASH_OF_SUBJECT_PUBLIC_KEY, "CKA_HASH_OF_SUBJECT_PUBLIC_KEY" }, { 0x8A4B0001UL, "vendor-0x8A4B0001" },
};
#define NATTRS (sizeof(attrs) / sizeof(attrs[0]))

/* dump_object reads every attribute of attrs[] in one template, size query first. */
static void dump_object(const char *key, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o)
{
	CK_ATTRIBUTE t[NATTRS];
	char k[256];
	size_t i;
	CK_RV rv;

	memset(t, 0, sizeof(t));
	for (i = 0; i < NATTRS; i++) t[i].type = attrs[i].t;
	rv = f->C_GetAttributeValue(s, o, t, NATTRS);
	snprintf(k, sizeof(k), "%s.sizes", key);
	put_rv(k, rv);
	for (i = 0; i < NATTRS; i++) {
		snprintf(k, sizeof(k), "%s.size.%s", key, attrs[i].name);
		put_attribute(k, &t[i]);
		if (t[i].ulValueLen != CK_UNAVAILABLE_INFORMATION) t[i].pValue = calloc(1, t[i].ulValueLen + 1);
		else t[i].ulValueLen = 0;
	}
	rv = f->C_GetAttributeValue(s, o, t, NATTRS);
	snprintf(k, sizeof(k), "%s.values", key);
	put_rv(k, rv);
	for (i = 0; i < NATTRS; i++) {
		snprintf(k, sizeof(k), "%s.%s", key, attrs[i].name);
		if (!t[i].pValue) t[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
		put_attribute(k, &t[i]);
		free(t[i].pValue);
	}
}

/* find returns up to MAX_OBJS handles matching tmpl, fetched three at a time. */
static CK_ULONG find(const char *key, CK_SESSION_HANDLE s, CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_OBJECT_HANDLE *objs)
{
	CK_ULONG count = 0, got = 0;
	char k[256];
	CK_RV rv = f->C_FindObjectsInit(s, tmpl, n);

	snprintf(k, sizeof(k), "%s.find", key);
	put_rv(k, rv);
	if (rv != CKR_OK) return 0;
	do {
		rv = f->C_FindObjects(s, objs + count, count + 3 <= MAX_OBJS ? 3 : MAX_OBJS - count, &got);
		count += rv == CKR_OK ? got : 0;
	} while (rv == CKR_OK && got > 0 && count < MAX_OBJS);
	put_rv(k, rv);
	put_rv(k, f->C_FindObjectsFinal(s));
	snprintf(k, sizeof(k), "%s.count", key);
	put_ulong(k, count);
	return count;
}

static void list_objects(const char *key, CK_SESSION_HANDLE s)
{
	CK_OBJECT_HANDLE objs[MAX_OBJS];
	CK_ULONG i, n = find(key, s, NULL, 0, objs);
	char k[256];

	for (i = 0; i < n; i++) {
		snprintf(k, sizeof(k), "~%s.obj[%lu].handle", key, (unsigned long)i);
		put_ulong(k, objs[i]);
		snprintf(k, sizeof(k), "%s.obj[%lu]", key, (unsigned long)i);
		dump_object(k, s, objs[i]);
	}
}

/* one_of finds the single object of class cls (with CKA_ID id when idlen > 0). */
static CK_OBJECT_HANDLE one_of(const char *key, CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls, CK_BYTE *id, CK_ULONG idlen)
{
	CK_ATTRIBUTE t[2] = { { CKA_CLASS, &cls, sizeof(cls) }, { CKA_ID, id, idlen } };
	CK_OBJECT_HANDLE objs[MAX_OBJS];
	CK_ULONG n = find(key, s, t, idlen ? 2 : 1, objs);

	return n > 0 ? objs[0] : CK_INVALID_HANDLE;
}

/* sign_with signs data with the token's private key two ways (SHA256_RSA_PKCS and
 * RSA_PKCS over a DigestInfo built from C_Digest) and verifies with the public key. */
static void sign_with(const char *key, const char *name, CK_SESSION_HANDLE s)
{
	static const CK_BYTE prefix[] = { 0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20 };
	CK_MECHANISM m = { CKM_SHA256_RSA_PKCS, NULL, 0 }, raw = { CKM_RSA_PKCS, NULL, 0 }, sha = { CKM_SHA256, NULL, 0 };
	CK_BYTE id[256], sig[512], sig2[512], cert[8192], di[sizeof(prefix) + 32];
	CK_ATTRIBUTE a = { CKA_ID, id, sizeof(id) }, c = { CKA_VALUE, cert, sizeof(cert) };
	CK_ULONG n = 0, n2 = sizeof(sig2), dn = 32, small = 10;
	CK_OBJECT_HANDLE priv, pub, crt;
	char k[256], file[64];

	snprintf(k, sizeof(k), "%s.privkey", key);
	priv = one_of(k, s, CKO_PRIVATE_KEY, NULL, 0);
	expect(priv != CK_INVALID_HANDLE, "a private key after login");
	if (priv == CK_INVALID_HANDLE) return;
	snprintf(k, sizeof(k), "%s.privkey.id", key);
	put_rv(k, f->C_GetAttributeValue(s, priv, &a, 1));
	put_attribute(k, &a);
	snprintf(k, sizeof(k), "%s.cert", key);
	crt = one_of(k, s, CKO_CERTIFICATE, id, a.ulValueLen);
	put_rv(k, f->C_GetAttributeValue(s, crt, &c, 1));
	expect(c.ulValueLen != CK_UNAVAILABLE_INFORMATION && c.ulValueLen > 0, "the key's certificate");
	snprintf(file, sizeof(file), "%s.der", name);
	if (c.ulValueLen != CK_UNAVAILABLE_INFORMATION) save(file, cert, c.ulValueLen);
	if (key_type(s, priv) == CKK_EC) {
		snprintf(k, sizeof(k), "%s.pubkey", key);
		sign_ec(key, name, s, priv, one_of(k, s, CKO_PUBLIC_KEY, id, a.ulValueLen));
		return;
	}

	snprintf(k, sizeof(k), "%s.sign.init", key);
	put_rv(k, f->C_SignInit(s, &m, priv));
	snprintf(k, sizeof(k), "%s.sign.size", key);
	put_rv(k, f->C_Sign(s, (CK_BYTE_PTR)data, sizeof(data) - 1, NULL, &n));
	put_ulong(k, n);
	snprintf(k, sizeof(k), "%s.sign.small", key);
	put_rv(k, f->C_Sign(s, (CK_BYTE_PTR)data, sizeof(data) - 1, sig, &small));
	put_ulong(k, small);
	snprintf(k, sizeof(k), "%s.sign", key);
	n = sizeof(sig);
	put_rv(k, f->C_Sign(s, (CK_BYTE_PTR)data, sizeof(data) - 1, sig, &n));
	put_hex(k, sig, n == CK_UNAVAILABLE_INFORMATION || n > sizeof(sig) ? 0 : n);
	expect(n == 256, "a 256-byte signature");
	if (n == 256) {
		snprintf(file, sizeof(file), "%s.sig", name);
		save(file, sig, n);
	}

	snprintf(k, sizeof(k), "%s.digest", key);
	put_rv(k, f->C_DigestInit(s, &sha));
	put_rv(k, f->C_Digest(s, (CK_BYTE_PTR)data, sizeof(data) - 1, di + sizeof(prefix), &dn));
	put_hex(k, di + sizeof(prefix), dn == 32 ? 32 : 0);
	memcpy(di, prefix, sizeof(prefix));
	snprintf(k, sizeof(k), "%s.rawsign", key);
	put_rv(k, f->C_SignInit(s, &raw, priv));
	put_rv(k, f->C_Sign(s, di, sizeof(di), sig2, &n2));
	expect(n == 256 && n2 == 256 && !memcmp(sig, sig2, 256), "CKM_RSA_PKCS over the DigestInfo gives the same signature");

	snprintf(k, sizeof(k), "%s.pubkey", key);
	pub = one_of(k, s, CKO_PUBLIC_KEY, id, a.ulValueLen);
	snprintf(k, sizeof(k), "%s.verify", key);
	put_rv(k, f->C_VerifyInit(s, &m, pub));
	put_rv(k, f->C_Verify(s, (CK_BYTE_PTR)data, sizeof(data) - 1, sig, n));
	sign_pss(key, name, s, priv, pub);
}

/* key_type is the key's CKA_KEY_TYPE (CK_UNAVAILABLE_INFORMATION when unreadable). */
static CK_KEY_TYPE key_type(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o)
{
	CK_KEY_TYPE kt = CK_UNAVAILABLE_INFORMATION;
	CK_ATTRIBUTE a = { CKA_KEY_TYPE, &kt, sizeof(kt) };

	if (f->C_GetAttributeValue(s, o, &a, 1) != CKR_OK) return CK_UNAVAILABLE_INFORMATION;
	return kt;
}

/* sign_ec: an ECDSA P-384 key (the next card generation). ECDSA signatures are
 * randomised: only codes and lengths are compared. CKM_ECDSA_SHA384 over data (the
 * length query, a too-small buffer, the signature: r||s of 96 bytes) and CKM_ECDSA
 * over its SHA-384 from C_Digest; both are verified by the module (and a changed
 * one refused) and saved for openssl. */
static void sign_ec(const char *key, const char *name, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE priv, CK_OBJECT_HANDLE pub)
{
	CK_MECHANISM m = { CKM_ECDSA_SHA384, NULL, 0 }, raw = { CKM_ECDSA, NULL, 0 }, sha = { CKM_SHA384, NULL, 0 };
	CK_BYTE sig[512], sig2[512], hash[48];
	CK_ULONG n = 0, n2 = sizeof(sig2), hn = sizeof(hash), small = 10;
	char k[256], file[64];
	CK_RV rv;

	snprintf(k, sizeof(k), "%s.ecsign.init", key);
	put_rv(k, f->C_SignInit(s, &m, priv));
	snprintf(k, sizeof(k), "%s.ecsign.size", key);
	put_rv(k, f->C_Sign(s, (CK_BYTE_PTR)data, sizeof(data) - 1, NULL, &n));
	put_ulong(k, n);
	snprintf(k, sizeof(k), "%s.ecsign.small", key);
	put_rv(k, f->C_Sign(s, (CK_BYTE_PTR)data, sizeof(data) - 1, sig, &small));
	put_ulong(k, small);
	snprintf(k, sizeof(k), "%s.ecsign", key);
	n = sizeof(sig);
	put_rv(k, f->C_Sign(s, (CK_BYTE_PTR)data, sizeof(data) - 1, sig, &n));
	put_ulong(k, n);
	expect(n == 96, "a 96-byte r||s (ECDSA P-384)");
	if (n != 96) return;
	snprintf(file, sizeof(file), "%s.sig", name);
	save(file, sig, n);

	snprintf(k, sizeof(k), "%s.ecdigest", key);
	put_rv(k, f->C_DigestInit(s, &sha));
	put_rv(k, f->C_Digest(s, (CK_BYTE_PTR)data, sizeof(data) - 1, hash, &hn));
	put_hex(k, hash, hn == sizeof(hash) ? hn : 0);
	save("data.sha384", hash, sizeof(hash));
	snprintf(k, sizeof(k), "%s.ecrawsign", key);
	put_rv(k, f->C_SignInit(s, &raw, priv));
	put_rv(k, f->C_Sign(s, hash, sizeof(hash), sig2, &n2));
	put_ulong(k, n2);
	expect(n2 == 96, "CKM_ECDSA gives a 96-byte r||s");
	if (n2 == 96) {
		snprintf(file, sizeof(file), "%s.rawsig", name);
		save(file, sig2, n2);
	}

	snprintf(k, sizeof(k), "%s.ecverify", key);
	put_rv(k, f->C_VerifyInit(s, &m, pub));
	rv = f->C_Verify(s, (CK_BYTE_PTR)data, sizeof(data) - 1, sig, n);
	put_rv(k, rv);
	expect(rv == CKR_OK, "C_Verify accepts the CKM_ECDSA_SHA384 signature");
	put_rv(k, f->C_VerifyInit(s, &raw, pub));
	rv = f->C_Verify(s, hash, sizeof(hash), sig2, n2);
	put_rv(k, rv);
	expect(rv == CKR_OK, "C_Verify accepts the CKM_ECDSA signature");
	sig[40] ^= 1;
	snprintf(k, sizeof(k), "%s.ecverify.changed", key);
	put_rv(k, f->C_VerifyInit(s, &m, pub));
	rv = f->C_Verify(s, (CK_BYTE_PTR)data, sizeof(data) - 1, sig, n);
	put_rv(k, rv);
	expect(rv == CKR_SIGNATURE_INVALID, "C_Verify refuses a changed ECDSA signature");
}

/* sign_pss: RSA-PSS with a CK_RSA_PKCS_PSS_PARAMS parameter (three CK_ULONGs, packed
 * on Windows). PSS signatures are randomised: only codes and lengths are compared;
 * the signature is saved for openssl and verified by the module. */
static void sign_pss(const char *key, const char *name, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE priv, CK_OBJECT_HANDLE pub)
{
	CK_RSA_PKCS_PSS_PARAMS pp = { CKM_SHA256, CKG_MGF1_SHA256, 32 };
	CK_MECHANISM m = { CKM_SHA256_RSA_PKCS_PSS, &pp, sizeof(pp) };
	CK_BYTE sig[512];
	CK_ULONG n = sizeof(sig);
	char k[256], file[64];
	CK_RV rv;

	snprintf(k, sizeof(k), "%s.pss", key);
	rv = f->C_SignInit(s, &m, priv);
	put_rv(k, rv);
	if (rv != CKR_OK) return;
	rv = f->C_Sign(s, (CK_BYTE_PTR)data, sizeof(data) - 1, sig, &n);
	put_rv(k, rv);
	put_ulong(k, n);
	if (rv != CKR_OK || n != 256) return;
	snprintf(file, sizeof(file), "%s.pss", name);
	save(file, sig, n);
	snprintf(k, sizeof(k), "%s.pss.verify", key);
	put_rv(k, f->C_VerifyInit(s, &m, pub));
	put_rv(k, f->C_Verify(s, (CK_BYTE_PTR)data, sizeof(data) - 1, sig, n));
}


/* more_calls: multi-part signing (same bytes as single-part; ECDSA, randomised: the
 * length only), random bytes (length
 * only), a too-small attribute buffer, an RW session, and error codes that cross the
 * ABI as CK_RV or as CK_UNAVAILABLE_INFORMATION. */
static void more_calls(const char *key, CK_SLOT_ID slot, CK_SESSION_HANDLE s)
{
	CK_MECHANISM m = { CKM_SHA256_RSA_PKCS, NULL, 0 };
	CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
	CK_BBOOL yes = CK_TRUE;
	CK_ATTRIBUTE t[2] = { { CKA_CLASS, &cls, sizeof(cls) }, { CKA_TOKEN, &yes, sizeof(yes) } };
	CK_BYTE buf[512], small[10];
	CK_ATTRIBUTE a = { CKA_VALUE, small, sizeof(small) };
	CK_ULONG n = sizeof(buf);
	CK_SESSION_HANDLE rw = 0;
	CK_OBJECT_HANDLE objs[MAX_OBJS], priv;
	CK_TOKEN_INFO ti;
	char k[256];
	int ec;

	snprintf(k, sizeof(k), "%s.multipart.privkey", key);
	priv = one_of(k, s, CKO_PRIVATE_KEY, NULL, 0);
	ec = key_type(s, priv) == CKK_EC;
	if (ec) m.mechanism = CKM_ECDSA_SHA384;
	snprintf(k, sizeof(k), "%s.multipart", key);
	put_rv(k, f->C_SignInit(s, &m, priv));
	put_rv(k, f->C_SignUpdate(s, (CK_BYTE_PTR)data, 10));
	put_rv(k, f->C_SignUpdate(s, (CK_BYTE_PTR)data + 10, sizeof(data) - 11));
	put_rv(k, f->C_SignFinal(s, buf, &n));
	if (ec) put_ulong(k, n); /* randomised: the length only */
	else put_hex(k, buf, n <= sizeof(buf) ? n : 0);

	snprintf(k, sizeof(k), "%s.random", key);
	n = 32;
	put_rv(k, f->C_GenerateRandom(s, buf, n));

	snprintf(k, sizeof(k), "%s.certs", key);
	if (find(k, s, t, 2, objs) > 0) {
		snprintf(k, sizeof(k), "%s.smallbuffer", key);
		put_rv(k, f->C_GetAttributeValue(s, objs[0], &a, 1));
		put_ulong(k, a.ulValueLen);
	}

	snprintf(k, sizeof(k), "%s.rwsession", key);
	put_rv(k, f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &rw));
	session_info(k, rw);
	snprintf(k, sizeof(k), "%s.rwsession.tokeninfo", key);
	put_rv(k, f->C_GetTokenInfo(slot, &ti));
	put_ulong(k, ti.ulSessionCount);
	put_ulong(k, ti.ulRwSessionCount);
	snprintf(k, sizeof(k), "%s.rwsession.close", key);
	put_rv(k, f->C_CloseSession(rw));

	snprintf(k, sizeof(k), "%s.errors", key);
	put_rv(k, f->C_GetTokenInfo(0x7777, &ti));
	put_rv(k, f->C_GetSessionInfo(0x7777, NULL));
	put_rv(k, f->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR) "1", 1));
	snprintf(k, sizeof(k), "~%s.waitforslotevent", key); /* may see the insertion or not */
	put_rv(k, f->C_WaitForSlotEvent(CKF_DONT_BLOCK, &slot, NULL));
}

static void token_info(const char *key, CK_SLOT_ID slot, CK_TOKEN_INFO *ti)
{
	char k[256];

	memset(ti, 0, sizeof(*ti));
	snprintf(k, sizeof(k), "%s.tokeninfo", key);
	put_rv(k, f->C_GetTokenInfo(slot, ti));
	put_token_info(k, ti);
}

static void session_info(const char *key, CK_SESSION_HANDLE s)
{
	CK_SESSION_INFO si;
	char k[256];

	memset(&si, 0, sizeof(si));
	snprintf(k, sizeof(k), "%s.sessioninfo", key);
	put_rv(k, f->C_GetSessionInfo(s, &si));
	put_session_info(k, &si);
}

static void interfaces(lib_t lib)
{
	CK_C_GetInterfaceList list = (CK_C_GetInterfaceList)lib_sym(lib, "C_GetInterfaceList");
	CK_C_GetInterface get = (CK_C_GetInterface)lib_sym(lib, "C_GetInterface");
	CK_INTERFACE ifs[8], *one = NULL;
	CK_ULONG n = 8, i;
	char k[64];

	put_line("interfaces", "%s", list && get ? "exported" : "absent");
	if (!list || !get) return;
	put_rv("interfaces.list", list(ifs, &n));
	put_ulong("interfaces.count", n);
	for (i = 0; i < n && i < 8; i++) {
		snprintf(k, sizeof(k), "interfaces[%lu].name", (unsigned long)i);
		put_text(k, ifs[i].pInterfaceName, strlen((char *)ifs[i].pInterfaceName));
		snprintf(k, sizeof(k), "interfaces[%lu].version", (unsigned long)i);
		put_version(k, *(CK_VERSION *)ifs[i].pFunctionList);
		snprintf(k, sizeof(k), "interfaces[%lu].flags", (unsigned long)i);
		put_flags(k, ifs[i].flags);
	}
	put_rv("interfaces.get", get((CK_UTF8CHAR_PTR) "PKCS 11", NULL, &one, 0));
	if (one) put_version("interfaces.get.version", *(CK_VERSION *)one->pFunctionList);
}

static void mechanisms(const char *key, CK_SLOT_ID slot)
{
	CK_MECHANISM_TYPE mt[64];
	CK_MECHANISM_INFO mi;
	CK_ULONG n = 0, i;
	char k[256];

	snprintf(k, sizeof(k), "%s.mechanisms", key);
	put_rv(k, f->C_GetMechanismList(slot, NULL, &n));
	put_ulong(k, n);
	if (n > 64) n = 64;
	put_rv(k, f->C_GetMechanismList(slot, mt, &n));
	for (i = 0; i < n; i++) {
		memset(&mi, 0, sizeof(mi));
		snprintf(k, sizeof(k), "%s.mechanism[0x%lX]", key, (unsigned long)mt[i]);
		put_rv(k, f->C_GetMechanismInfo(slot, mt[i], &mi));
		put_mechanism_info(k, &mi);
	}
}

/*
 * three_pages returns three pages: the first readable and writable, the second not
 * accessible, the third not mapped (Windows: reserved, not committed); *pg gets the
 * page size.
 */
static char *three_pages(size_t *pg)
{
	char *m;
#ifdef _WIN32
	SYSTEM_INFO si;
	DWORD old;
	GetSystemInfo(&si);
	*pg = si.dwPageSize;
	m = VirtualAlloc(NULL, 3 * *pg, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
	if (!m || !VirtualProtect(m + *pg, *pg, PAGE_NOACCESS, &old) || !VirtualFree(m + 2 * *pg, *pg, MEM_DECOMMIT))
		return NULL;
#else
	*pg = (size_t)sysconf(_SC_PAGESIZE);
	m = mmap(NULL, 3 * *pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED || mprotect(m + *pg, *pg, PROT_NONE) != 0 || munmap(m + 2 * *pg, *pg) != 0)
		return NULL;
#endif
	return m;
}

/*
 * bad_reserved: C_Initialize with a pReserved that is not a readable string, and
 * with a pInitArgs that is not readable, answers CKR_ARGUMENTS_BAD without faulting
 * (the module probes the memory: process_vm_readv on Linux, ReadProcessMemory on
 * Windows); a parameter string that ends right before an inaccessible page works.
 */
static void bad_reserved(void)
{
	static const char tokens[] = "tokens=both";
	CK_C_INITIALIZE_ARGS a = { NULL, NULL, NULL, NULL, CKF_OS_LOCKING_OK, NULL };
	size_t pg = 0;
	char *m = three_pages(&pg);
	CK_RV rv;
	int i;
	struct { const char *key; void *args, *reserved; } bad[5];

	expect(m != NULL, "three pages for the pReserved cases");
	if (!m) return;
	memset(m + pg - 16, 'A', 16);
	bad[0].key = "initargs.reserved_1"; bad[0].args = &a; bad[0].reserved = (void *)1;
	bad[1].key = "initargs.reserved_unmapped"; bad[1].args = &a; bad[1].reserved = m + 2 * pg + 100;
	bad[2].key = "initargs.reserved_noaccess"; bad[2].args = &a; bad[2].reserved = m + pg;
	bad[3].key = "initargs.reserved_unterminated"; bad[3].args = &a; bad[3].reserved = m + pg - 16;
	bad[4].key = "initargs.args_unmapped"; bad[4].args = m + 2 * pg; bad[4].reserved = NULL;
	for (i = 0; i < 5; i++) {
		a.pReserved = bad[i].reserved;
		rv = f->C_Initialize(bad[i].args);
		put_rv(bad[i].key, rv);
		expect(rv == CKR_ARGUMENTS_BAD, bad[i].key);
		if (rv == CKR_OK) f->C_Finalize(NULL);
	}
	memcpy(m + pg - sizeof(tokens), tokens, sizeof(tokens));
	a.pReserved = m + pg - sizeof(tokens);
	rv = f->C_Initialize(&a);
	put_rv("initargs.reserved_string", rv);
	expect(rv == CKR_OK, "a parameter string that ends before an inaccessible page");
	if (rv == CKR_OK) put_rv("initargs.finalize", f->C_Finalize(NULL));
}

/* A thread blocked in C_WaitForSlotEvent(0), as Firefox keeps one: C_Finalize must
 * wake it (the module cancels its blocking SCardGetStatusChange with SCardCancel)
 * with CKR_CRYPTOKI_NOT_INITIALIZED. */
static CK_RV waiter_rv = (CK_RV)-1;

#ifdef _WIN32
static DWORD WINAPI waiter(void *arg)
#else
static void *waiter(void *arg)
#endif
{
	CK_SLOT_ID slot;
	(void)arg;
	waiter_rv = f->C_WaitForSlotEvent(0, &slot, NULL);
	return 0;
}

/* finalize_during_wait: C_Finalize with a thread blocked in C_WaitForSlotEvent. */
static void finalize_during_wait(void)
{
	CK_SLOT_ID slot;
	int i, joined;
	for (i = 0; i < 16; i++) /* drain the insertion events: the next wait blocks */
		if (f->C_WaitForSlotEvent(CKF_DONT_BLOCK, &slot, NULL) != CKR_OK)
			break;
#ifdef _WIN32
	HANDLE th = CreateThread(NULL, 0, waiter, NULL, 0, NULL);
	Sleep(300); /* into its wait (had it not got there, it would still be told the same) */
	put_rv("finalize", f->C_Finalize(NULL));
	joined = th != NULL && WaitForSingleObject(th, 10000) == WAIT_OBJECT_0;
	if (th) CloseHandle(th);
#else
	pthread_t th;
	struct timespec until;
	int started = pthread_create(&th, NULL, waiter, NULL) == 0;
	usleep(300 * 1000);
	put_rv("finalize", f->C_Finalize(NULL));
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 10;
	joined = started && pthread_timedjoin_np(th, NULL, &until) == 0;
#endif
	expect(joined, "C_Finalize releases a thread blocked in C_WaitForSlotEvent");
	put_rv("finalize.waiter", joined ? waiter_rv : (CK_RV)-1);
	expect(waiter_rv == CKR_CRYPTOKI_NOT_INITIALIZED, "the waiter gets CKR_CRYPTOKI_NOT_INITIALIZED");
}

int main(int argc, char **argv)
{
	const char *auth = getenv("JPKI_AUTH_PIN"), *signpin = getenv("JPKI_SIGN_PIN"), *wrong = getenv("JPKI_WRONG_PIN");
	CK_C_INITIALIZE_ARGS init = { NULL, NULL, NULL, NULL, CKF_OS_LOCKING_OK, NULL };
	CK_SLOT_ID slots[MAX_SLOTS], tokens[MAX_SLOTS];
	CK_SESSION_HANDLE sess[MAX_SLOTS];
	CK_ULONG nslots = MAX_SLOTS, ntok = 0, i, minpin[MAX_SLOTS];
	CK_C_GetFunctionList getlist;
	CK_TOKEN_INFO ti;
	CK_SLOT_INFO si;
	CK_INFO info;
	char k[256];
	lib_t lib;

	if (argc != 4 || !auth || !signpin || !wrong) {
		fprintf(stderr, "usage: JPKI_AUTH_PIN=.. JPKI_SIGN_PIN=.. JPKI_WRONG_PIN=.. host MODULE OUTFILE OUTDIR\n");
		return 2;
	}
	outdir = argv[3];
	if (!canon_open(argv[2])) { fprintf(stderr, "host: cannot write %s\n", argv[2]); return 2; }
	put_line("~abi", "CK_ULONG %u bytes, CK_TOKEN_INFO %u bytes", (unsigned)sizeof(CK_ULONG), (unsigned)sizeof(CK_TOKEN_INFO));
	lib = lib_open(argv[1]);
	expect(lib != NULL, "load the module");
	if (!lib) { canon_close(); return 100; }
	getlist = (CK_C_GetFunctionList)lib_sym(lib, "C_GetFunctionList");
	expect(getlist != NULL, "C_GetFunctionList exported");
	if (!getlist) { canon_close(); return 100; }
	put_rv("functionlist", getlist(&f));
	expect(f != NULL, "a function list");
	if (!f) { canon_close(); return 100; }
	put_version("functionlist.version", f->version);
	/* every slot of the (packed on Windows) function list: set, and where it points */
#define X(name, args) put_line("functionlist." #name, "%s", !f->name ? "NULL" : \
	(void *)f->name == lib_sym(lib, #name) ? "the export" : "another function");
	CK_PKCS11_FUNCTIONS_2_40(X)
#undef X
	interfaces(lib);

	bad_reserved();
	put_rv("initialize", f->C_Initialize(&init));
	memset(&info, 0, sizeof(info));
	put_rv("info", f->C_GetInfo(&info));
	put_info("info", &info);

	put_rv("slots", f->C_GetSlotList(CK_FALSE, NULL, &nslots));
	put_ulong("slots.count", nslots);
	if (nslots > MAX_SLOTS) nslots = MAX_SLOTS;
	put_rv("slots", f->C_GetSlotList(CK_FALSE, slots, &nslots));
	for (i = 0; i < nslots; i++) {
		snprintf(k, sizeof(k), "slot[%lu]", (unsigned long)i);
		put_ulong(k, slots[i]);
		memset(&si, 0, sizeof(si));
		snprintf(k, sizeof(k), "slot[%lu].slotinfo", (unsigned long)i);
		put_rv(k, f->C_GetSlotInfo(slots[i], &si));
		put_slot_info(k, &si);
		if (!(si.flags & CKF_TOKEN_PRESENT)) continue;
		snprintf(k, sizeof(k), "slot[%lu]", (unsigned long)i);
		token_info(k, slots[i], &ti);
		mechanisms(k, slots[i]);
		if (ntok < MAX_SLOTS) { minpin[ntok] = ti.ulMinPinLen; tokens[ntok++] = slots[i]; }
	}
	put_ulong("tokens.count", ntok);
	expect(ntok >= 2, "two tokens (authentication and signature)");

	for (i = 0; i < ntok; i++) {
		snprintf(k, sizeof(k), "token[%lu].open", (unsigned long)i);
		put_rv(k, f->C_OpenSession(tokens[i], CKF_SERIAL_SESSION, NULL, NULL, &sess[i]));
		snprintf(k, sizeof(k), "~token[%lu].session", (unsigned long)i);
		put_ulong(k, sess[i]);
		snprintf(k, sizeof(k), "token[%lu].public", (unsigned long)i);
		session_info(k, sess[i]);
		list_objects(k, sess[i]);
	}
	for (i = 0; i < ntok; i++) {
		const char *pin = minpin[i] == 4 ? auth : signpin, *name = minpin[i] == 4 ? "auth" : "sign";
		CK_RV rv = f->C_Login(sess[i], CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin));
		snprintf(k, sizeof(k), "token[%lu].login", (unsigned long)i);
		put_rv(k, rv);
		expect(rv == CKR_OK, "login with the right PIN");
		snprintf(k, sizeof(k), "token[%lu].user", (unsigned long)i);
		token_info(k, tokens[i], &ti);
		session_info(k, sess[i]);
		list_objects(k, sess[i]);
		sign_with(k, name, sess[i]);
		more_calls(k, tokens[i], sess[i]);
		snprintf(k, sizeof(k), "token[%lu].logout", (unsigned long)i);
		put_rv(k, f->C_Logout(sess[i]));
		session_info(k, sess[i]);
		list_objects(k, sess[i]);
	}
	save("data.bin", data, sizeof(data) - 1);

	for (i = 0; i < ntok; i++) {
		CK_RV rv;
		if (minpin[i] != 4) continue;
		rv = f->C_Login(sess[i], CKU_USER, (CK_UTF8CHAR_PTR)wrong, strlen(wrong));
		snprintf(k, sizeof(k), "token[%lu].wrongpin", (unsigned long)i);
		put_rv(k, rv);
		expect(rv == CKR_PIN_INCORRECT, "a wrong PIN gives CKR_PIN_INCORRECT");
		token_info(k, tokens[i], &ti);
		expect((ti.flags & CKF_USER_PIN_COUNT_LOW) && !(ti.flags & CKF_USER_PIN_LOCKED), "CKF_USER_PIN_COUNT_LOW after one wrong PIN");
		session_info(k, sess[i]);
		break;
	}

	for (i = 0; i < ntok; i++) {
		snprintf(k, sizeof(k), "token[%lu].closeall", (unsigned long)i);
		put_rv(k, f->C_CloseAllSessions(tokens[i]));
	}
	finalize_during_wait();
	expect(lib_close(lib) == 0, "unload the module");
	/* a Go runtime unmapped under its own threads would crash within this pause */
#ifdef _WIN32
	Sleep(500);
#else
	usleep(500 * 1000);
#endif
	put_line("unload", "ok");
	put_line("failures", "%d", failures);
	canon_close();
	return failures;
}
