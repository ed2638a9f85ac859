/*
 * cabi.c: the C ABI test of jpki-pkcs11 (issue "Never crash the host": the C ABI).
 *
 * Usage: cabi MODULE.so [--token [PIN]]
 * Loads the module with dlopen as a host application does and calls every C_* with
 * NULL pointers, zero and huge lengths, wrong handles, in the wrong order, with bad
 * C_Initialize arguments, across fork(), and checks the CKR of each. With --token
 * (a PC/SC service with a card; no PIN is ever sent) it also checks the session-level
 * rules on the first token (Sign without SignInit, buffer protocol, templates), and
 * with its PIN (right, so no try is spent) login, sensitive attributes and signing. Prints one line per failed check and exits 1
 * if any failed; prints "ok N checks" otherwise. Built and run by ../cabi_test.go.
 */
#define _GNU_SOURCE /* pthread_timedjoin_np */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pkcs11.h"

static int checks, failures;
static int have_service; /* --token: a PC/SC service with readers (slot 0 exists) */

/* Progress on stderr, so that a hang shows where it happened. */
static void section(const char *name)
{
	fprintf(stderr, "== %s\n", name);
}

static void expect_rv(const char *what, int line, CK_RV got, CK_RV want)
{
	checks++;
	if (got != want) {
		failures++;
		printf("FAIL line %d: %s: got 0x%lx, want 0x%lx\n", line, what, got, want);
	}
}
#define EXPECT(call, want) expect_rv(#call, __LINE__, (call), (want))

static void expect_true(const char *what, int line, int ok)
{
	checks++;
	if (!ok) {
		failures++;
		printf("FAIL line %d: %s\n", line, what);
	}
}
#define CHECK(cond) expect_true(#cond, __LINE__, (cond))

static CK_FUNCTION_LIST_PTR f2;   /* 2.40 list */
static CK_FUNCTION_LIST_3_0_PTR f3; /* 3.0 list */

/*
 * Calls every function of the 3.0 list with all-zero arguments (NULL pointers,
 * handle 0, length 0). Calling through a pointer cast to a nine-argument type is
 * fine on the x86-64 and arm64 Unix ABIs, where surplus arguments are ignored.
 * expect(name) gives the CKR each must return; C_Initialize and C_Finalize are
 * skipped (they change the state).
 */
typedef CK_RV (*zero_fn)(CK_ULONG, CK_ULONG, CK_ULONG, CK_ULONG, CK_ULONG, CK_ULONG, CK_ULONG,
			 CK_ULONG, CK_ULONG);

static void call_all_zero(CK_RV (*expect)(const char *name))
{
#define CALL_ZERO(name, args)                                                           \
	if (strcmp(#name, "C_Initialize") != 0 && strcmp(#name, "C_Finalize") != 0)      \
		expect_rv(#name "(0...)", __LINE__,                                      \
			  ((zero_fn)(void *)f3->name)(0, 0, 0, 0, 0, 0, 0, 0, 0), expect(#name));
	CK_PKCS11_FUNCTIONS_2_40(CALL_ZERO)
	CK_PKCS11_FUNCTIONS_3_0(CALL_ZERO)
#undef CALL_ZERO
}

static CK_RV before_init(const char *name)
{
	/* These three work without C_Initialize; with NULL output pointers they say so. */
	if (!strcmp(name, "C_GetFunctionList") || !strcmp(name, "C_GetInterfaceList") ||
	    !strcmp(name, "C_GetInterface"))
		return CKR_ARGUMENTS_BAD;
	return CKR_CRYPTOKI_NOT_INITIALIZED;
}

static const char *const unsupported[] = {
	"C_InitToken", "C_InitPIN", "C_GetOperationState", "C_SetOperationState",
	"C_EncryptInit", "C_Encrypt", "C_EncryptUpdate",
	"C_EncryptFinal", "C_DecryptInit", "C_Decrypt", "C_DecryptUpdate", "C_DecryptFinal",
	"C_DigestKey", "C_SignRecoverInit", "C_SignRecover", "C_VerifyRecoverInit",
	"C_VerifyRecover", "C_DigestEncryptUpdate", "C_DecryptDigestUpdate",
	"C_SignEncryptUpdate", "C_DecryptVerifyUpdate", "C_GenerateKey", "C_GenerateKeyPair",
	"C_WrapKey", "C_UnwrapKey", "C_DeriveKey", "C_LoginUser", "C_SessionCancel",
	"C_MessageEncryptInit", "C_EncryptMessage", "C_EncryptMessageBegin",
	"C_EncryptMessageNext", "C_MessageEncryptFinal", "C_MessageDecryptInit",
	"C_DecryptMessage", "C_DecryptMessageBegin", "C_DecryptMessageNext",
	"C_MessageDecryptFinal", "C_MessageSignInit", "C_SignMessage", "C_SignMessageBegin",
	"C_SignMessageNext", "C_MessageSignFinal", "C_MessageVerifyInit", "C_VerifyMessage",
	"C_VerifyMessageBegin", "C_VerifyMessageNext", "C_MessageVerifyFinal", NULL,
};

/* Functions whose zero-argument call fails on a NULL output pointer. */
static const char *const bad_args[] = {
	"C_GetInfo", "C_GetFunctionList", "C_GetSlotList", "C_GetSlotInfo", "C_GetTokenInfo",
	"C_GetMechanismList", "C_GetMechanismInfo", "C_OpenSession", "C_GetSessionInfo",
	"C_FindObjects", "C_DigestInit", "C_Digest", "C_DigestFinal", "C_SignInit", "C_Sign",
	"C_SignFinal", "C_VerifyInit", "C_WaitForSlotEvent", "C_GetInterfaceList",
	"C_GetInterface", "C_CreateObject", "C_CopyObject", "C_GetObjectSize", NULL,
};

static int in(const char *name, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(name, *list))
			return 1;
	return 0;
}

static CK_RV after_init(const char *name)
{
	if (in(name, unsupported))
		return CKR_FUNCTION_NOT_SUPPORTED;
	if (in(name, bad_args))
		return CKR_ARGUMENTS_BAD;
	if (!strcmp(name, "C_GetFunctionStatus") || !strcmp(name, "C_CancelFunction"))
		return CKR_FUNCTION_NOT_PARALLEL;
	if (!strcmp(name, "C_CloseAllSessions"))
		return have_service ? CKR_OK : CKR_SLOT_ID_INVALID;
	/* Everything else takes a session handle, and 0 is never one. */
	return CKR_SESSION_HANDLE_INVALID;
}

static void interfaces(void)
{
	CK_FUNCTION_LIST_PTR fl = NULL;
	CK_INTERFACE list[4];
	CK_ULONG n = 0;
	CK_INTERFACE_PTR it = NULL;
	CK_VERSION v240 = {2, 40}, v30 = {3, 0}, v31 = {3, 1};
	CK_C_GetFunctionList gfl = (CK_C_GetFunctionList)(void *)f2->C_GetFunctionList;

	section("interfaces");

	EXPECT(gfl(NULL), CKR_ARGUMENTS_BAD);
	EXPECT(gfl(&fl), CKR_OK);
	CHECK(fl == f2 && fl->version.major == 2 && fl->version.minor == 40);

	EXPECT(f3->C_GetInterfaceList(NULL, NULL), CKR_ARGUMENTS_BAD);
	EXPECT(f3->C_GetInterfaceList(NULL, &n), CKR_OK);
	CHECK(n == 2);
	n = 1;
	EXPECT(f3->C_GetInterfaceList(list, &n), CKR_BUFFER_TOO_SMALL);
	CHECK(n == 2);
	n = 4;
	EXPECT(f3->C_GetInterfaceList(list, &n), CKR_OK);
	CHECK(n == 2);
	for (CK_ULONG i = 0; i < n && i < 4; i++) {
		CK_VERSION *v = (CK_VERSION *)list[i].pFunctionList;
		CHECK(strcmp((char *)list[i].pInterfaceName, "PKCS 11") == 0);
		CHECK(list[i].flags == 0); /* never CKF_INTERFACE_FORK_SAFE */
		CHECK((v->major == 3 && v->minor == 0) || (v->major == 2 && v->minor == 40));
	}

	EXPECT(f3->C_GetInterface(NULL, NULL, NULL, 0), CKR_ARGUMENTS_BAD);
	EXPECT(f3->C_GetInterface(NULL, NULL, &it, 0), CKR_OK);
	CHECK(it && ((CK_VERSION *)it->pFunctionList)->major == 3);
	EXPECT(f3->C_GetInterface((CK_UTF8CHAR_PTR) "PKCS 11", &v240, &it, 0), CKR_OK);
	CHECK(it && it->pFunctionList == (void *)f2);
	EXPECT(f3->C_GetInterface((CK_UTF8CHAR_PTR) "PKCS 11", &v30, &it, 0), CKR_OK);
	CHECK(it && it->pFunctionList == (void *)f3);
	EXPECT(f3->C_GetInterface((CK_UTF8CHAR_PTR) "PKCS 11", &v31, &it, 0), CKR_ARGUMENTS_BAD);
	EXPECT(f3->C_GetInterface((CK_UTF8CHAR_PTR) "Vendor", NULL, &it, 0), CKR_ARGUMENTS_BAD);
	EXPECT(f3->C_GetInterface(NULL, NULL, &it, CKF_INTERFACE_FORK_SAFE), CKR_ARGUMENTS_BAD);

	/* Same entry points in both lists, except C_GetInfo (version differs). */
	CHECK(f3->C_Sign == f2->C_Sign && f3->C_Initialize == f2->C_Initialize);
	CHECK(f3->C_GetInfo != f2->C_GetInfo);
}

/* Mutex callbacks that must never be called. */
static CK_RV create_mutex(CK_VOID_PTR_PTR m) { (void)m; return CKR_GENERAL_ERROR; }
static CK_RV other_mutex(CK_VOID_PTR m) { (void)m; return CKR_GENERAL_ERROR; }

static void initialize_args(void)
{
	CK_C_INITIALIZE_ARGS a;

	section("initialize_args");

	memset(&a, 0, sizeof a);
	a.CreateMutex = create_mutex; /* one callback without the others */
	EXPECT(f2->C_Initialize(&a), CKR_ARGUMENTS_BAD);
	a.DestroyMutex = other_mutex;
	a.LockMutex = other_mutex;
	EXPECT(f2->C_Initialize(&a), CKR_ARGUMENTS_BAD);
	a.UnlockMutex = other_mutex; /* all four, but no OS locking allowed */
	EXPECT(f2->C_Initialize(&a), CKR_CANT_LOCK);
	a.flags = CKF_OS_LOCKING_OK; /* all four, OS locking allowed: we use ours */
	EXPECT(f2->C_Initialize(&a), CKR_OK);
	EXPECT(f2->C_Finalize(NULL), CKR_OK);

	/* What NSS passes: no callbacks, both flags, a non-NULL pReserved. */
	memset(&a, 0, sizeof a);
	a.flags = CKF_OS_LOCKING_OK | CKF_LIBRARY_CANT_CREATE_OS_THREADS;
	a.pReserved = (CK_VOID_PTR) "configdir='sql:/tmp' certPrefix='' keyPrefix=''";
	EXPECT(f2->C_Initialize(&a), CKR_OK);
	EXPECT(f2->C_Initialize(&a), CKR_CRYPTOKI_ALREADY_INITIALIZED);
	EXPECT(f2->C_Initialize(NULL), CKR_CRYPTOKI_ALREADY_INITIALIZED);
	EXPECT(f2->C_Finalize(&a), CKR_ARGUMENTS_BAD);
	EXPECT(f2->C_Finalize(NULL), CKR_OK);
	EXPECT(f2->C_Finalize(NULL), CKR_CRYPTOKI_NOT_INITIALIZED);

	/* Initialize, Finalize, Initialize again: many times in one process. */
	for (int i = 0; i < 100; i++) {
		CK_RV r1 = f2->C_Initialize(NULL), r2 = f2->C_Finalize(NULL);
		if (r1 != CKR_OK || r2 != CKR_OK) {
			EXPECT(r1, CKR_OK);
			EXPECT(r2, CKR_OK);
			break;
		}
	}
}

/*
 * C_Initialize with a pReserved (or pInitArgs) that is not safely readable: the
 * module must answer CKR_ARGUMENTS_BAD without faulting (an over-read here kills
 * this process). Three pages: readable, PROT_NONE, unmapped. A parameter string that
 * ends right before the PROT_NONE page is read whole (CKR_OK), so is one of exactly
 * the bound (4096 bytes); one byte more is refused.
 */
static void bad_reserved(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	CK_C_INITIALIZE_ARGS a;
	char *m, *longest;
	static const char tokens[] = "tokens=auth";

	section("bad_reserved");
	m = mmap(NULL, 3 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(m != MAP_FAILED);
	if (m == MAP_FAILED)
		return;
	CHECK(mprotect(m + pg, pg, PROT_NONE) == 0);
	CHECK(munmap(m + 2 * pg, pg) == 0);
	memset(&a, 0, sizeof a);
	a.flags = CKF_OS_LOCKING_OK;

	a.pReserved = (CK_VOID_PTR)1;
	EXPECT(f2->C_Initialize(&a), CKR_ARGUMENTS_BAD);
	a.pReserved = m + 2 * pg + 100; /* unmapped */
	EXPECT(f2->C_Initialize(&a), CKR_ARGUMENTS_BAD);
	a.pReserved = m + pg; /* PROT_NONE */
	EXPECT(f2->C_Initialize(&a), CKR_ARGUMENTS_BAD);
	memset(m + pg - 16, 'A', 16); /* 16 bytes, no NUL, then PROT_NONE */
	a.pReserved = m + pg - 16;
	EXPECT(f2->C_Initialize(&a), CKR_ARGUMENTS_BAD);
	memset(m, 'B', pg); /* a whole readable page without a NUL */
	a.pReserved = m;
	EXPECT(f2->C_Initialize(&a), CKR_ARGUMENTS_BAD);
	/* pInitArgs itself unreadable, or running into the PROT_NONE page */
	EXPECT(f2->C_Initialize((CK_VOID_PTR)8), CKR_ARGUMENTS_BAD);
	EXPECT(f2->C_Initialize(m + pg - sizeof a / 2), CKR_ARGUMENTS_BAD);
	EXPECT(f2->C_Initialize(m + 2 * pg), CKR_ARGUMENTS_BAD);

	/* the real thing, ending at the PROT_NONE page: read, and it takes effect */
	memcpy(m + pg - sizeof tokens, tokens, sizeof tokens);
	a.pReserved = m + pg - sizeof tokens;
	EXPECT(f2->C_Initialize(&a), CKR_OK);
	if (have_service) {
		CK_ULONG n = 0;
		EXPECT(f2->C_GetSlotList(CK_TRUE, NULL, &n), CKR_OK);
		CHECK(n == 1); /* tokens=auth: one token on the one card */
	}
	EXPECT(f2->C_Finalize(NULL), CKR_OK);

	/* the bound: 4096 bytes before the NUL are read, 4097 are too many */
	longest = malloc(4098);
	CHECK(longest != NULL);
	if (longest != NULL) {
		memset(longest, ' ', 4097);
		longest[4096] = '\0';
		a.pReserved = longest;
		EXPECT(f2->C_Initialize(&a), CKR_OK);
		EXPECT(f2->C_Finalize(NULL), CKR_OK);
		longest[4096] = ' ';
		longest[4097] = '\0';
		EXPECT(f2->C_Initialize(&a), CKR_ARGUMENTS_BAD);
		free(longest);
	}
	munmap(m, 2 * pg);
}

static void info(void)
{
	CK_INFO i;
	memset(&i, 0xAA, sizeof i);
	EXPECT(f2->C_GetInfo(&i), CKR_OK);
	CHECK(i.cryptokiVersion.major == 2 && i.cryptokiVersion.minor == 40);
	CHECK(memcmp(i.manufacturerID, "jpki-pkcs11                     ", 32) == 0);
	CHECK(memcmp(i.libraryDescription, "JPKI My Number Card             ", 32) == 0);
	CHECK(i.flags == 0);
	EXPECT(f3->C_GetInfo(&i), CKR_OK);
	CHECK(i.cryptokiVersion.major == 3 && i.cryptokiVersion.minor == 0);

	section("info");
}

/* Wrong handles, NULL pointers with lengths, huge lengths: no card needed. */
static void bad_calls(void)
{
	CK_ULONG n = 12345, big = (CK_ULONG)-1;
	CK_SLOT_ID slots[4], slot = 0;
	CK_SLOT_INFO si;
	CK_TOKEN_INFO ti;
	CK_MECHANISM_INFO mi;
	CK_SESSION_HANDLE h = 0;
	CK_SESSION_INFO ssi;
	CK_BYTE data[32] = {0}, out[512];
	CK_ULONG outLen = sizeof out;
	CK_OBJECT_HANDLE objs[4];
	CK_MECHANISM mech = {CKM_SHA256_RSA_PKCS, NULL, 0};
	CK_RSA_PKCS_PSS_PARAMS pss = {CKM_SHA256, CKG_MGF1_SHA256, 32};
	CK_MECHANISM psm = {CKM_SHA256_RSA_PKCS_PSS, &pss, sizeof pss};
	CK_MECHANISM nullParam = {CKM_RSA_PKCS_PSS, NULL, sizeof pss};
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE tmpl[2] = {{CKA_CLASS, &cls, sizeof cls}, {0x7FFFFF01UL, NULL, 0}};
	CK_ATTRIBUTE nullValue[1] = {{CKA_LABEL, NULL, 5}};
	const CK_SESSION_HANDLE bogus = 0x5EE5;

	section("bad_calls");

	/* Slots that do not exist (at most two readers in any test: ids stay small). */
	EXPECT(f2->C_GetSlotInfo(big, &si), CKR_SLOT_ID_INVALID);
	EXPECT(f2->C_GetTokenInfo(big, &ti), CKR_SLOT_ID_INVALID);
	EXPECT(f2->C_GetMechanismList(7, NULL, &n), CKR_SLOT_ID_INVALID);
	EXPECT(f2->C_GetMechanismInfo(7, CKM_RSA_PKCS, &mi), CKR_SLOT_ID_INVALID);
	EXPECT(f2->C_OpenSession(7, CKF_SERIAL_SESSION, NULL, NULL, &h), CKR_SLOT_ID_INVALID);
	EXPECT(f2->C_CloseAllSessions(big), CKR_SLOT_ID_INVALID);
	EXPECT(f2->C_WaitForSlotEvent(CKF_DONT_BLOCK, &slot, &slot), CKR_ARGUMENTS_BAD);

	/* Wrong session handles, with otherwise good arguments. */
	EXPECT(f2->C_CloseSession(bogus), CKR_SESSION_HANDLE_INVALID);
	EXPECT(f2->C_GetSessionInfo(bogus, &ssi), CKR_SESSION_HANDLE_INVALID);
	EXPECT(f2->C_Login(bogus, CKU_USER, (CK_UTF8CHAR_PTR) "1234", 4), CKR_SESSION_HANDLE_INVALID);
	EXPECT(f2->C_Logout(bogus), CKR_SESSION_HANDLE_INVALID);
	EXPECT(f2->C_SetPIN(bogus, (CK_UTF8CHAR_PTR) "1234", 4, (CK_UTF8CHAR_PTR) "5678", 4),
	       CKR_SESSION_HANDLE_INVALID);
	EXPECT(f2->C_FindObjectsInit(bogus, tmpl, 2), CKR_SESSION_HANDLE_INVALID);
	EXPECT(f2->C_FindObjects(bogus, objs, 4, &n), CKR_SESSION_HANDLE_INVALID);
	EXPECT(f2->C_FindObjectsFinal(bogus), CKR_SESSION_HANDLE_INVALID);
	EXPECT(f2->C_GetAttributeValue(bogus, 1, tmpl, 2), CKR_SESSION_HANDLE_INVALID);
	EXPECT(f2->C_GetObjectSize(bogus, 1, &n), CKR_SESSION_HANDLE_INVALID);
	EXPECT(f2->C_SignInit(bogus, &mech, 1), CKR_SESSION_HANDLE_INVALID);
	EXPECT(f2->C_SignInit(bogus, &psm, 1), CKR_SESSION_HANDLE_INVALID);
	EXPECT(f2->C_Sign(bogus, data, sizeof data, NULL, &outLen), CKR_SESSION_HANDLE_INVALID);
	EXPECT(f2->C_Sign(bogus, data, sizeof data, out, &outLen), CKR_SESSION_HANDLE_INVALID);
	EXPECT(f2->C_SignUpdate(bogus, data, sizeof data), CKR_SESSION_HANDLE_INVALID);
	EXPECT(f2->C_SignFinal(bogus, out, &outLen), CKR_SESSION_HANDLE_INVALID);
	EXPECT(f2->C_VerifyInit(bogus, &mech, 1), CKR_SESSION_HANDLE_INVALID);
	EXPECT(f2->C_Verify(bogus, data, sizeof data, out, 256), CKR_SESSION_HANDLE_INVALID);
	EXPECT(f2->C_VerifyUpdate(bogus, data, sizeof data), CKR_SESSION_HANDLE_INVALID);
	EXPECT(f2->C_VerifyFinal(bogus, out, 256), CKR_SESSION_HANDLE_INVALID);
	mech.mechanism = CKM_SHA256;
	EXPECT(f2->C_DigestInit(bogus, &mech), CKR_SESSION_HANDLE_INVALID);
	EXPECT(f2->C_Digest(bogus, data, sizeof data, out, &outLen), CKR_SESSION_HANDLE_INVALID);
	EXPECT(f2->C_DigestUpdate(bogus, data, sizeof data), CKR_SESSION_HANDLE_INVALID);
	EXPECT(f2->C_DigestFinal(bogus, out, &outLen), CKR_SESSION_HANDLE_INVALID);
	EXPECT(f2->C_GenerateRandom(bogus, out, 16), CKR_SESSION_HANDLE_INVALID);
	EXPECT(f2->C_SeedRandom(bogus, data, sizeof data), CKR_SESSION_HANDLE_INVALID);
	EXPECT(f2->C_SeedRandom(bogus, NULL, 4), CKR_ARGUMENTS_BAD);

	/* NULL buffers with non-zero lengths: CKR_ARGUMENTS_BAD before anything else. */
	EXPECT(f2->C_Login(bogus, CKU_USER, NULL, 4), CKR_ARGUMENTS_BAD);
	EXPECT(f2->C_SetPIN(bogus, NULL, 4, (CK_UTF8CHAR_PTR) "5678", 4), CKR_ARGUMENTS_BAD);
	EXPECT(f2->C_SetPIN(bogus, (CK_UTF8CHAR_PTR) "1234", 4, NULL, 4), CKR_ARGUMENTS_BAD);
	EXPECT(f2->C_FindObjectsInit(bogus, NULL, 3), CKR_ARGUMENTS_BAD);
	EXPECT(f2->C_FindObjects(bogus, NULL, 4, &n), CKR_ARGUMENTS_BAD);
	EXPECT(f2->C_FindObjects(bogus, objs, 4, NULL), CKR_ARGUMENTS_BAD);
	EXPECT(f2->C_GetAttributeValue(bogus, 1, NULL, 2), CKR_ARGUMENTS_BAD);
	EXPECT(f2->C_GetObjectSize(bogus, 1, NULL), CKR_ARGUMENTS_BAD);
	EXPECT(f2->C_SignInit(bogus, &nullParam, 1), CKR_ARGUMENTS_BAD);
	EXPECT(f2->C_Sign(bogus, NULL, 10, out, &outLen), CKR_ARGUMENTS_BAD);
	EXPECT(f2->C_Sign(bogus, data, sizeof data, out, NULL), CKR_ARGUMENTS_BAD);
	EXPECT(f2->C_SignUpdate(bogus, NULL, 1), CKR_ARGUMENTS_BAD);
	EXPECT(f2->C_Verify(bogus, data, sizeof data, NULL, 256), CKR_ARGUMENTS_BAD);
	EXPECT(f2->C_Verify(bogus, NULL, 1, out, 256), CKR_ARGUMENTS_BAD);
	EXPECT(f2->C_VerifyFinal(bogus, NULL, 256), CKR_ARGUMENTS_BAD);
	EXPECT(f2->C_Digest(bogus, NULL, 1, out, &outLen), CKR_ARGUMENTS_BAD);
	EXPECT(f2->C_GenerateRandom(bogus, NULL, 16), CKR_ARGUMENTS_BAD);
	EXPECT(f2->C_GetMechanismList(7, NULL, NULL), CKR_ARGUMENTS_BAD);

	/* Huge lengths and counts: refused or bounded without reading past the buffers
	 * (under valgrind/ASan an over-read would show). */
	EXPECT(f2->C_Login(bogus, CKU_USER, (CK_UTF8CHAR_PTR) "1234", big), CKR_SESSION_HANDLE_INVALID);
	EXPECT(f2->C_FindObjectsInit(bogus, tmpl, big), CKR_ARGUMENTS_BAD);
	EXPECT(f2->C_GetAttributeValue(bogus, 1, tmpl, big), CKR_ARGUMENTS_BAD);
	EXPECT(f2->C_FindObjectsInit(bogus, nullValue, 1), CKR_ARGUMENTS_BAD);
	tmpl[0].ulValueLen = big;
	EXPECT(f2->C_FindObjectsInit(bogus, tmpl, 1), CKR_ATTRIBUTE_VALUE_INVALID);
	tmpl[0].ulValueLen = sizeof cls;
	psm.ulParameterLen = big;
	EXPECT(f2->C_SignInit(bogus, &psm, 1), CKR_MECHANISM_PARAM_INVALID);
	psm.ulParameterLen = sizeof pss;
	EXPECT(f2->C_FindObjects(bogus, objs, big, &n), CKR_SESSION_HANDLE_INVALID);
	n = big;
	EXPECT(f2->C_GetSlotList(CK_FALSE, slots, &n), CKR_OK);
	CHECK(n <= 4);
	/* Zero lengths with NULL are fine (then the session check answers). */
	EXPECT(f2->C_FindObjectsInit(bogus, NULL, 0), CKR_SESSION_HANDLE_INVALID);
	EXPECT(f2->C_Sign(bogus, NULL, 0, NULL, &outLen), CKR_SESSION_HANDLE_INVALID);
	EXPECT(f2->C_GenerateRandom(bogus, NULL, 0), CKR_SESSION_HANDLE_INVALID);
}

/* No PC/SC service at all: an empty slot list, nothing to wait for. */
static void no_service(void)
{
	CK_SLOT_ID slots[4], slot = 0;
	CK_SLOT_INFO si;
	CK_ULONG n = 4;
	EXPECT(f2->C_Initialize(NULL), CKR_OK);
	EXPECT(f2->C_GetSlotList(CK_FALSE, NULL, &n), CKR_OK);
	CHECK(n == 0);
	n = 4;
	EXPECT(f2->C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
	CHECK(n == 0);
	EXPECT(f2->C_GetSlotInfo(0, &si), CKR_SLOT_ID_INVALID);
	EXPECT(f2->C_CloseAllSessions(0), CKR_SLOT_ID_INVALID);
	EXPECT(f2->C_WaitForSlotEvent(CKF_DONT_BLOCK, &slot, NULL), CKR_NO_EVENT);
	EXPECT(f2->C_Finalize(NULL), CKR_OK);

	section("no_service");
}

/* Calls from several threads at once, while another thread finalises. The
 * specification leaves calls concurrent with C_Finalize undefined, but a module
 * inside a browser must not crash or hang there (NSS finalises from atexit while
 * other threads may still call): every call returns, with CKR_OK or
 * CKR_CRYPTOKI_NOT_INITIALIZED. */
static void *hammer(void *arg)
{
	(void)arg;
	for (int i = 0; i < 2000; i++) {
		CK_ULONG n = 0;
		CK_INFO inf;
		CK_RV rv = f2->C_GetSlotList(CK_FALSE, NULL, &n);
		if (rv != CKR_OK && rv != CKR_CRYPTOKI_NOT_INITIALIZED)
			return (void *)1;
		rv = f2->C_GetInfo(&inf);
		if (rv != CKR_OK && rv != CKR_CRYPTOKI_NOT_INITIALIZED)
			return (void *)1;
	}
	return NULL;
}

static void threads(void)
{
	pthread_t t[8];
	void *res;
	int bad = 0, hung = 0;
	struct timespec deadline;

	section("threads");
	EXPECT(f2->C_Initialize(NULL), CKR_OK);
	for (int i = 0; i < 8; i++)
		pthread_create(&t[i], NULL, hammer, NULL);
	usleep(1000);
	EXPECT(f2->C_Finalize(NULL), CKR_OK);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 20;
	for (int i = 0; i < 8; i++) {
		if (pthread_timedjoin_np(t[i], &res, &deadline) != 0) {
			hung++;
			continue;
		}
		bad += res != NULL;
	}
	CHECK(bad == 0);
	if (hung) {
		/* The threads cannot be cancelled: report and stop here. */
		printf("FAIL: %d threads calling C_GetSlotList did not return within 20 s of a "
		       "concurrent C_Finalize\n", hung);
		fflush(stdout);
		_exit(1);
	}
}

/* C_Finalize wakes a thread blocked in C_WaitForSlotEvent. */
static void *waiter(void *arg)
{
	CK_SLOT_ID slot = 0;
	*(CK_RV *)arg = f2->C_WaitForSlotEvent(0, &slot, NULL);
	return NULL;
}

static void finalize_wakes_wait(void)
{
	pthread_t t;
	CK_RV rv = 0xFFFF;
	struct timespec deadline;
	EXPECT(f2->C_Initialize(NULL), CKR_OK);
	pthread_create(&t, NULL, waiter, &rv);
	usleep(300 * 1000);

	section("finalize_wakes_wait");
	CHECK(rv == 0xFFFF); /* still waiting: nothing happened to the readers */
	EXPECT(f2->C_Finalize(NULL), CKR_OK);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 5;
	if (pthread_timedjoin_np(t, NULL, &deadline) != 0) {
		expect_true("C_Finalize wakes C_WaitForSlotEvent within 5 s", __LINE__, 0);
		return;
	}
	EXPECT(rv, CKR_CRYPTOKI_NOT_INITIALIZED);
}

/* What NSS does: C_CloseAllSessions and C_Finalize from an atexit handler. */
static void at_exit(void)
{
	CK_RV rv1 = f2->C_CloseAllSessions(0), rv2 = f2->C_Finalize(NULL);
	if ((rv1 != CKR_OK && rv1 != CKR_SLOT_ID_INVALID) || rv2 != CKR_OK) {
		printf("FAIL atexit: C_CloseAllSessions 0x%lx, C_Finalize 0x%lx\n", rv1, rv2);
		fflush(stdout);
		_exit(5);
	}
}

/* A forked child never enters the Go runtime: it gets errors decided in C. */
static void forked(int initialised)
{
	pid_t pid;
	int status = 0;

	section(initialised ? "forked (initialised)" : "forked (loaded)");
	if (initialised)
		EXPECT(f2->C_Initialize(NULL), CKR_OK);
	pid = fork();
	if (pid == 0) {
		CK_ULONG n = 0;
		CK_INFO inf;
		CK_FUNCTION_LIST_PTR fl = NULL;
		int bad = 0;
		bad |= f2->C_GetSlotList(CK_FALSE, NULL, &n) != CKR_CRYPTOKI_NOT_INITIALIZED;
		bad |= f2->C_GetInfo(&inf) != CKR_CRYPTOKI_NOT_INITIALIZED;
		bad |= f2->C_Finalize(NULL) != CKR_CRYPTOKI_NOT_INITIALIZED;
		bad |= f2->C_Initialize(NULL) != CKR_GENERAL_ERROR;
		bad |= f2->C_GetFunctionList(&fl) != CKR_OK;
		bad |= f2->C_Sign(1, NULL, 0, NULL, &n) != CKR_CRYPTOKI_NOT_INITIALIZED;
		_exit(bad ? 3 : 0);
	}
	CHECK(pid > 0);
	waitpid(pid, &status, 0);
	expect_true(initialised ? "forked child of an initialised parent gets clean errors"
				: "forked child of a loaded, not initialised parent gets clean errors",
		    __LINE__, WIFEXITED(status) && WEXITSTATUS(status) == 0);
	if (initialised) {
		CK_ULONG n = 0;
		EXPECT(f2->C_GetSlotList(CK_FALSE, NULL, &n), CKR_OK); /* the parent goes on */
		EXPECT(f2->C_Finalize(NULL), CKR_OK);
	}
}

/*
 * An argument error ends the active operation (the specification: "A call to C_Sign
 * always terminates the active signing operation unless it returns
 * CKR_BUFFER_TOO_SMALL or is a successful call to determine the length"; the same
 * for every call of a signing, verifying or digesting operation). After each
 * refused call the operation is gone: the next good call answers
 * CKR_OPERATION_NOT_INITIALIZED. key may be 0 (not logged in: digests only).
 */
static void argument_errors_end_operations(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE key, CK_OBJECT_HANDLE pub)
{
	CK_MECHANISM sm = {CKM_SHA256_RSA_PKCS, NULL, 0}, dm = {CKM_SHA256, NULL, 0};
	CK_BYTE data[32] = {5}, sig[512], out[64];
	CK_ULONG n;

	section("argument_errors_end_operations");
	if (key != 0) {
		/* a good signature to verify with, below */
		CK_ULONG sigLen = sizeof sig;
		EXPECT(f2->C_SignInit(h, &sm, key), CKR_OK);
		EXPECT(f2->C_Sign(h, data, sizeof data, sig, &sigLen), CKR_OK);

		EXPECT(f2->C_SignInit(h, &sm, key), CKR_OK);
		EXPECT(f2->C_Sign(h, data, sizeof data, sig, NULL), CKR_ARGUMENTS_BAD);
		n = sizeof sig;
		EXPECT(f2->C_Sign(h, data, sizeof data, sig, &n), CKR_OPERATION_NOT_INITIALIZED);
		EXPECT(f2->C_SignInit(h, &sm, key), CKR_OK);
		EXPECT(f2->C_Sign(h, NULL, 5, NULL, &n), CKR_ARGUMENTS_BAD); /* not a length query */
		EXPECT(f2->C_Sign(h, data, sizeof data, NULL, &n), CKR_OPERATION_NOT_INITIALIZED);
		EXPECT(f2->C_SignInit(h, &sm, key), CKR_OK);
		EXPECT(f2->C_SignUpdate(h, NULL, 5), CKR_ARGUMENTS_BAD);
		EXPECT(f2->C_SignUpdate(h, data, sizeof data), CKR_OPERATION_NOT_INITIALIZED);
		EXPECT(f2->C_SignInit(h, &sm, key), CKR_OK);
		EXPECT(f2->C_SignUpdate(h, data, sizeof data), CKR_OK);
		EXPECT(f2->C_SignFinal(h, sig, NULL), CKR_ARGUMENTS_BAD);
		n = sizeof sig;
		EXPECT(f2->C_SignFinal(h, sig, &n), CKR_OPERATION_NOT_INITIALIZED);
		/* the exceptions: a length query and a short buffer keep the operation */
		EXPECT(f2->C_SignInit(h, &sm, key), CKR_OK);
		EXPECT(f2->C_Sign(h, data, sizeof data, NULL, &n), CKR_OK);
		n = 10;
		EXPECT(f2->C_Sign(h, data, sizeof data, sig, &n), CKR_BUFFER_TOO_SMALL);
		n = sizeof sig;
		EXPECT(f2->C_Sign(h, data, sizeof data, sig, &n), CKR_OK);
		CHECK(n == sigLen);

		EXPECT(f2->C_VerifyInit(h, &sm, pub), CKR_OK);
		EXPECT(f2->C_Verify(h, NULL, 5, sig, sigLen), CKR_ARGUMENTS_BAD);
		EXPECT(f2->C_Verify(h, data, sizeof data, sig, sigLen), CKR_OPERATION_NOT_INITIALIZED);
		EXPECT(f2->C_VerifyInit(h, &sm, pub), CKR_OK);
		EXPECT(f2->C_Verify(h, data, sizeof data, NULL, sigLen), CKR_ARGUMENTS_BAD);
		EXPECT(f2->C_Verify(h, data, sizeof data, sig, sigLen), CKR_OPERATION_NOT_INITIALIZED);
		EXPECT(f2->C_VerifyInit(h, &sm, pub), CKR_OK);
		EXPECT(f2->C_VerifyUpdate(h, NULL, 5), CKR_ARGUMENTS_BAD);
		EXPECT(f2->C_VerifyUpdate(h, data, sizeof data), CKR_OPERATION_NOT_INITIALIZED);
		EXPECT(f2->C_VerifyInit(h, &sm, pub), CKR_OK);
		EXPECT(f2->C_VerifyUpdate(h, data, sizeof data), CKR_OK);
		EXPECT(f2->C_VerifyFinal(h, NULL, sigLen), CKR_ARGUMENTS_BAD);
		EXPECT(f2->C_VerifyFinal(h, sig, sigLen), CKR_OPERATION_NOT_INITIALIZED);
		EXPECT(f2->C_VerifyInit(h, &sm, pub), CKR_OK);
		EXPECT(f2->C_Verify(h, data, sizeof data, sig, sigLen), CKR_OK);
	}

	EXPECT(f2->C_DigestInit(h, &dm), CKR_OK);
	EXPECT(f2->C_Digest(h, data, sizeof data, out, NULL), CKR_ARGUMENTS_BAD);
	n = sizeof out;
	EXPECT(f2->C_Digest(h, data, sizeof data, out, &n), CKR_OPERATION_NOT_INITIALIZED);
	EXPECT(f2->C_DigestInit(h, &dm), CKR_OK);
	EXPECT(f2->C_Digest(h, NULL, 5, out, &n), CKR_ARGUMENTS_BAD);
	EXPECT(f2->C_Digest(h, data, sizeof data, out, &n), CKR_OPERATION_NOT_INITIALIZED);
	EXPECT(f2->C_DigestInit(h, &dm), CKR_OK);
	EXPECT(f2->C_DigestUpdate(h, NULL, 5), CKR_ARGUMENTS_BAD);
	EXPECT(f2->C_DigestUpdate(h, data, sizeof data), CKR_OPERATION_NOT_INITIALIZED);
	EXPECT(f2->C_DigestInit(h, &dm), CKR_OK);
	EXPECT(f2->C_DigestUpdate(h, data, sizeof data), CKR_OK);
	EXPECT(f2->C_DigestFinal(h, out, NULL), CKR_ARGUMENTS_BAD);
	n = sizeof out;
	EXPECT(f2->C_DigestFinal(h, out, &n), CKR_OPERATION_NOT_INITIALIZED);
	/* an argument error of one kind leaves the other kinds alone */
	if (key != 0) {
		EXPECT(f2->C_SignInit(h, &sm, key), CKR_OK);
		EXPECT(f2->C_DigestInit(h, &dm), CKR_OK);
		EXPECT(f2->C_DigestFinal(h, out, NULL), CKR_ARGUMENTS_BAD);
		n = sizeof sig;
		EXPECT(f2->C_Sign(h, data, sizeof data, sig, &n), CKR_OK);
	}
}

/* With the right PIN (no try is spent): login rules, sensitive attributes and the
 * signature buffer protocol on the first private key. */
static void logged_in(CK_SESSION_HANDLE h, const char *pin)
{
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE find[1] = {{CKA_CLASS, &cls, sizeof cls}};
	CK_OBJECT_HANDLE key = 0, pub = 0;
	CK_ULONG n = 0, sigLen = 0;
	CK_BYTE mod[512], sig[512], data[100] = {7};
	CK_ATTRIBUTE get[3] = {{CKA_PRIVATE_EXPONENT, mod, sizeof mod},
			       {CKA_MODULUS, NULL, 0},
			       {0x7FFFFF02UL, NULL, 0}};
	CK_MECHANISM mech = {CKM_SHA256_RSA_PKCS, NULL, 0};
	CK_ULONG plen = (CK_ULONG)strlen(pin);
	CK_RV rv;

	section("logged_in");
	EXPECT(f2->C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR)pin, plen), CKR_OK);
	EXPECT(f2->C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR)pin, plen), CKR_USER_ALREADY_LOGGED_IN);
	EXPECT(f2->C_FindObjectsInit(h, find, 1), CKR_OK);
	EXPECT(f2->C_FindObjects(h, &key, 1, &n), CKR_OK);
	EXPECT(f2->C_FindObjectsFinal(h), CKR_OK);
	CHECK(n == 1 && key != 0);

	/* Every entry answered; SENSITIVE wins over TYPE_INVALID. */
	EXPECT(f2->C_GetAttributeValue(h, key, get, 3), CKR_ATTRIBUTE_SENSITIVE);
	CHECK(get[0].ulValueLen == CK_UNAVAILABLE_INFORMATION);
	CHECK(get[1].ulValueLen == 256);
	CHECK(get[2].ulValueLen == CK_UNAVAILABLE_INFORMATION);

	/* Sign: size query, short buffer (operation kept), signature, then ended. */
	EXPECT(f2->C_Sign(h, data, sizeof data, sig, &sigLen), CKR_OPERATION_NOT_INITIALIZED);
	EXPECT(f2->C_SignInit(h, &mech, key), CKR_OK);
	EXPECT(f2->C_SignInit(h, &mech, key), CKR_OPERATION_ACTIVE);
	EXPECT(f2->C_Sign(h, data, sizeof data, NULL, &sigLen), CKR_OK);
	CHECK(sigLen == 256);
	sigLen = 255;
	EXPECT(f2->C_Sign(h, data, sizeof data, sig, &sigLen), CKR_BUFFER_TOO_SMALL);
	CHECK(sigLen == 256);
	sigLen = sizeof sig;
	EXPECT(f2->C_Sign(h, data, sizeof data, sig, &sigLen), CKR_OK);
	CHECK(sigLen == 256);
	EXPECT(f2->C_Sign(h, data, sizeof data, sig, &sigLen), CKR_OPERATION_NOT_INITIALIZED);

	/* Multi-part with a size query on C_SignFinal. */
	EXPECT(f2->C_SignInit(h, &mech, key), CKR_OK);
	EXPECT(f2->C_SignUpdate(h, data, 10), CKR_OK);
	EXPECT(f2->C_SignUpdate(h, data + 10, sizeof data - 10), CKR_OK);
	sigLen = 0;
	EXPECT(f2->C_SignFinal(h, NULL, &sigLen), CKR_OK);
	CHECK(sigLen == 256);
	EXPECT(f2->C_SignFinal(h, sig, &sigLen), CKR_OK);

	cls = CKO_PUBLIC_KEY;
	EXPECT(f2->C_FindObjectsInit(h, find, 1), CKR_OK);
	EXPECT(f2->C_FindObjects(h, &pub, 1, &n), CKR_OK);
	EXPECT(f2->C_FindObjectsFinal(h), CKR_OK);
	CHECK(n == 1 && pub != 0);
	argument_errors_end_operations(h, key, pub);

	EXPECT(f2->C_Logout(h), CKR_OK);
	EXPECT(f2->C_Logout(h), CKR_USER_NOT_LOGGED_IN);
	/* Logged out: no signature. SignInit may refuse the key now or accept the
	 * operation and refuse at C_Sign (the session layer decides which). */
	rv = f2->C_SignInit(h, &mech, key);
	CHECK(rv == CKR_OK || rv == CKR_USER_NOT_LOGGED_IN || rv == CKR_KEY_HANDLE_INVALID);
	if (rv == CKR_OK) {
		sigLen = sizeof sig;
		rv = f2->C_Sign(h, data, sizeof data, sig, &sigLen);
		CHECK(rv == CKR_USER_NOT_LOGGED_IN);
	}
}

/* Order rules inside a session on a real token. */
static void with_token(CK_SLOT_ID slot, const char *pin)
{
	CK_SESSION_HANDLE h = 0, h2 = 0;
	CK_BYTE data[32] = {1}, out[512];
	CK_ULONG outLen = sizeof out, n = 0;
	CK_OBJECT_HANDLE objs[16];
	CK_MECHANISM sha = {CKM_SHA256, NULL, 0};
	CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
	CK_BYTE unk[8];
	CK_ATTRIBUTE find[2] = {{CKA_CLASS, &cls, sizeof cls}, {0x7FFFFF01UL, unk, sizeof unk}};
	CK_ATTRIBUTE get[3] = {{CKA_CLASS, NULL, 0}, {0x7FFFFF01UL, NULL, 0}, {CKA_VALUE, NULL, 0}};

	section("with_token");
	EXPECT(f2->C_Initialize(NULL), CKR_OK);
	EXPECT(f2->C_OpenSession(slot, 0, NULL, NULL, &h), CKR_SESSION_PARALLEL_NOT_SUPPORTED);
	EXPECT(f2->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &h), CKR_OK);
	CHECK(h != 0);
	EXPECT(f2->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &h2), CKR_OK);
	CHECK(h2 != 0 && h2 != h);

	/* Operations that were never initialised. */
	EXPECT(f2->C_Sign(h, data, sizeof data, out, &outLen), CKR_OPERATION_NOT_INITIALIZED);
	EXPECT(f2->C_SignUpdate(h, data, sizeof data), CKR_OPERATION_NOT_INITIALIZED);
	EXPECT(f2->C_SignFinal(h, out, &outLen), CKR_OPERATION_NOT_INITIALIZED);
	EXPECT(f2->C_Verify(h, data, sizeof data, out, 256), CKR_OPERATION_NOT_INITIALIZED);
	EXPECT(f2->C_VerifyFinal(h, out, 256), CKR_OPERATION_NOT_INITIALIZED);
	EXPECT(f2->C_Digest(h, data, sizeof data, out, &outLen), CKR_OPERATION_NOT_INITIALIZED);
	EXPECT(f2->C_DigestFinal(h, out, &outLen), CKR_OPERATION_NOT_INITIALIZED);
	EXPECT(f2->C_FindObjects(h, objs, 16, &n), CKR_OPERATION_NOT_INITIALIZED);
	EXPECT(f2->C_FindObjectsFinal(h), CKR_OPERATION_NOT_INITIALIZED);
	EXPECT(f2->C_Logout(h), CKR_USER_NOT_LOGGED_IN);
	/* No RNG on this token: both random functions say so (pkcs11test, pkcs11-tool). */
	EXPECT(f2->C_SeedRandom(h, data, sizeof data), CKR_RANDOM_NO_RNG);
	EXPECT(f2->C_GenerateRandom(h, out, 16), CKR_RANDOM_NO_RNG);

	/* Digest: size query, too small (operation kept), then the digest. */
	EXPECT(f2->C_DigestInit(h, &sha), CKR_OK);
	EXPECT(f2->C_DigestInit(h, &sha), CKR_OPERATION_ACTIVE);
	EXPECT(f2->C_Digest(h, data, sizeof data, NULL, &outLen), CKR_OK);
	CHECK(outLen == 32);
	outLen = 31;
	EXPECT(f2->C_Digest(h, data, sizeof data, out, &outLen), CKR_BUFFER_TOO_SMALL);
	CHECK(outLen == 32);
	outLen = sizeof out;
	EXPECT(f2->C_Digest(h, data, sizeof data, out, &outLen), CKR_OK);
	CHECK(outLen == 32);
	EXPECT(f2->C_Digest(h, data, sizeof data, out, &outLen), CKR_OPERATION_NOT_INITIALIZED);

	/* Find with an unknown attribute in the template: matches nothing, no error. */
	EXPECT(f2->C_FindObjectsInit(h, find, 2), CKR_OK);
	EXPECT(f2->C_FindObjectsInit(h, find, 2), CKR_OPERATION_ACTIVE);
	EXPECT(f2->C_FindObjects(h, objs, 16, &n), CKR_OK);
	CHECK(n == 0);
	EXPECT(f2->C_FindObjectsFinal(h), CKR_OK);
	EXPECT(f2->C_FindObjectsInit(h, find, 1), CKR_OK);
	EXPECT(f2->C_FindObjects(h, objs, 16, &n), CKR_OK);
	CHECK(n >= 1);
	EXPECT(f2->C_FindObjectsFinal(h), CKR_OK);
	if (n >= 1) {
		/* Per-attribute answers: sizes, an unknown type, then a short buffer. */
		EXPECT(f2->C_GetAttributeValue(h, objs[0], get, 3), CKR_ATTRIBUTE_TYPE_INVALID);
		CHECK(get[0].ulValueLen == sizeof(CK_ULONG));
		CHECK(get[1].ulValueLen == CK_UNAVAILABLE_INFORMATION);
		CHECK(get[2].ulValueLen > 100 && get[2].ulValueLen != CK_UNAVAILABLE_INFORMATION);
		get[2].pValue = out;
		get[2].ulValueLen = 10;
		EXPECT(f2->C_GetAttributeValue(h, objs[0], &get[2], 1), CKR_BUFFER_TOO_SMALL);
		CHECK(get[2].ulValueLen == CK_UNAVAILABLE_INFORMATION);
		EXPECT(f2->C_GetAttributeValue(h, 0x7777, get, 1), CKR_OBJECT_HANDLE_INVALID);
		/* The object's encoded size: its attribute values, the certificate's
		 * DER (CKA_VALUE, get[2] above) among them. */
		n = 0;
		EXPECT(f2->C_GetObjectSize(h, objs[0], &n), CKR_OK);
		CHECK(n > 1000 && n != CK_UNAVAILABLE_INFORMATION);
		EXPECT(f2->C_GetObjectSize(h, 0x7777, &n), CKR_OBJECT_HANDLE_INVALID);
		EXPECT(f2->C_GetObjectSize(h, objs[0], NULL), CKR_ARGUMENTS_BAD);
	}
	argument_errors_end_operations(h, 0, 0);
	if (pin)
		logged_in(h, pin);
	EXPECT(f2->C_CloseSession(h), CKR_OK);
	EXPECT(f2->C_CloseSession(h), CKR_SESSION_HANDLE_INVALID);
	EXPECT(f2->C_CloseAllSessions(slot), CKR_OK);
	EXPECT(f2->C_GetSessionInfo(h2, (CK_SESSION_INFO_PTR)out), CKR_SESSION_HANDLE_INVALID);
	EXPECT(f2->C_Finalize(NULL), CKR_OK);
}

/* The first slot with a token (the harness put a card in). */
static CK_SLOT_ID first_token(void)
{
	CK_SLOT_ID slots[8];
	CK_ULONG n = 8;
	EXPECT(f2->C_Initialize(NULL), CKR_OK);
	EXPECT(f2->C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
	CHECK(n >= 1);
	EXPECT(f2->C_Finalize(NULL), CKR_OK);
	return n >= 1 ? slots[0] : 0;
}

int main(int argc, char **argv)
{
	void *lib;
	CK_C_GetFunctionList gfl;
	CK_C_GetInterface gi;
	CK_INTERFACE_PTR it = NULL;
	CK_VERSION v30 = {3, 0};

	if (argc < 2) {
		fprintf(stderr, "usage: %s MODULE.so [--token [PIN]]\n", argv[0]);
		return 2;
	}
	lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		printf("FAIL dlopen: %s\n", dlerror());
		return 1;
	}
	gfl = (CK_C_GetFunctionList)dlsym(lib, "C_GetFunctionList");
	gi = (CK_C_GetInterface)dlsym(lib, "C_GetInterface");
	if (!gfl || !gi || gfl(&f2) != CKR_OK || gi(NULL, &v30, &it, 0) != CKR_OK) {
		printf("FAIL: no function list\n");
		return 1;
	}
	f3 = (CK_FUNCTION_LIST_3_0_PTR)it->pFunctionList;

	have_service = argc > 2 && !strcmp(argv[2], "--token");
	interfaces();
	call_all_zero(before_init);
	forked(0);
	initialize_args();
	bad_reserved();
	EXPECT(f2->C_Initialize(NULL), CKR_OK);
	info();
	if (have_service) {
		/* Slot ids are known to the application once it listed them. */
		CK_ULONG n = 0;
		EXPECT(f2->C_GetSlotList(CK_FALSE, NULL, &n), CKR_OK);
		CHECK(n >= 2);
	}
	call_all_zero(after_init);
	bad_calls();
	EXPECT(f2->C_Finalize(NULL), CKR_OK);
	call_all_zero(before_init);
	forked(1);
	threads();
	if (have_service)
		with_token(first_token(), argc > 3 ? argv[3] : NULL);
	else
		no_service();

	finalize_wakes_wait();

	/* Left initialised on purpose: finalised from atexit, as NSS does. */
	EXPECT(f2->C_Initialize(NULL), CKR_OK);
	atexit(at_exit);
	if (failures) {
		printf("%d of %d checks failed\n", failures, checks);
		return 1;
	}
	printf("ok %d checks\n", checks);
	return 0;
}
