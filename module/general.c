/*
 * general.c: the C side of the general-purpose functions: the fork guard,
 * C_Initialize argument checks, C_Finalize, C_GetInfo, the static function lists and
 * the 3.0 interfaces. Nothing here enters Go except goInitialize, goInitializeRefused
 * (which logs why C_Initialize was refused) and goFinalize.
 */
#include <string.h>
#ifndef _WIN32
#include <unistd.h>
#endif
#include "shim.h"
#include "_cgo_export.h"

/*
 * The fork guard.
 *
 * A Go runtime does not survive fork(): the child has only the forking thread, the
 * runtime's other threads are gone, and entering Go there can deadlock. PKCS#11
 * (2.40 section 6.6.1, 3.0 section 5.1) says a child created by fork() is not a
 * Cryptoki application even if its parent was: it has not called C_Initialize. So a
 * forked child gets, from C and without entering Go:
 *   - CKR_CRYPTOKI_NOT_INITIALIZED from every function that needs an initialised
 *     library (what the specification says a non-initialised application gets);
 *   - CKR_GENERAL_ERROR from C_Initialize: the specification lets the child
 *     initialise, but this library cannot run its Go runtime in the child, and
 *     CKR_GENERAL_ERROR is the spec's code for "the library cannot go on".
 * C_GetFunctionList, C_GetInterfaceList and C_GetInterface keep working (static C).
 * A program that needs the card in a forked child should fork+exec (the exec'd image
 * loads its own copy), or use p11-kit remoting: `p11-kit server --provider
 * jpki-pkcs11.so` in one process and p11-kit-client.so in the forking program, which
 * then only talks to a socket. This is why CKF_INTERFACE_FORK_SAFE is never set.
 */
#ifndef _WIN32
static pid_t load_pid;  /* the process that loaded us (and started the Go runtime) */
__attribute__((constructor)) static void jpki_loaded(void) { load_pid = getpid(); }
#define JPKI_SELF ((long)getpid())
#else
#define JPKI_SELF 1L /* no fork on Windows */
#endif

/* The process that initialised the library; 0 when not initialised. Written only by
 * Go under its state lock (jpki_set_initialized); read here without a lock. */
static long init_owner;

void jpki_set_initialized(int on)
{
	__atomic_store_n(&init_owner, on ? JPKI_SELF : 0L, __ATOMIC_RELEASE);
}

CK_RV jpki_guard(void)
{
	long owner = __atomic_load_n(&init_owner, __ATOMIC_ACQUIRE);
	if (owner == 0 || owner != JPKI_SELF)
		return CKR_CRYPTOKI_NOT_INITIALIZED;
	return CKR_OK;
}

#ifdef _WIN32
void jpki_pin_module(void); /* dllmain_windows.c */
#endif

/* JPKI_MAX_PARAMS bounds the module parameter string NSS (modutil -string) and
 * p11-kit (x-init-reserved) pass in pReserved: at most this many bytes before its
 * NUL (README.md, "Options"). */
#define JPKI_MAX_PARAMS 4096
#define JPKI_STR(x) #x
#define JPKI_XSTR(x) JPKI_STR(x)

CK_RV C_Initialize(CK_VOID_PTR pInitArgs)
{
	CK_C_INITIALIZE_ARGS a;
	char params[JPKI_MAX_PARAMS + 1];
	long n = -1; /* length of params; -1: no pReserved */
#ifndef _WIN32
	if (getpid() != load_pid)
		return CKR_GENERAL_ERROR; /* forked child: see the fork guard above */
#else
	jpki_pin_module();
#endif
	if (pInitArgs != NULL_PTR) {
		int cb;
		/* Any pointer may arrive here: it is read without faulting (saferead.c). */
		if (jpki_safe_read(&a, pInitArgs, sizeof a) != 0)
			return goInitializeRefused(CKR_ARGUMENTS_BAD, (char *)"pInitArgs is not readable");
		cb = (a.CreateMutex != NULL_PTR) + (a.DestroyMutex != NULL_PTR) +
		     (a.LockMutex != NULL_PTR) + (a.UnlockMutex != NULL_PTR);
		/* The four mutex callbacks come all together or not at all. */
		if (cb != 0 && cb != 4)
			return goInitializeRefused(CKR_ARGUMENTS_BAD, (char *)"some mutex callbacks but not all four");
		/* Callbacks without CKF_OS_LOCKING_OK: we would have to lock with the
		 * application's primitives, which a Go runtime cannot do. With
		 * CKF_OS_LOCKING_OK we may use native locking, and do. */
		if (cb == 4 && !(a.flags & CKF_OS_LOCKING_OK))
			return goInitializeRefused(CKR_CANT_LOCK, (char *)"mutex callbacks without CKF_OS_LOCKING_OK");
		/* CKF_LIBRARY_CANT_CREATE_OS_THREADS is ignored (the Go runtime has threads
		 * already; the library creates none of its own for the caller). pReserved
		 * must be NULL by the specification, but NSS and p11-kit pass their module
		 * parameters there as a NUL-terminated string; only a "tokens=auth|sign|both"
		 * word is taken from it (docs/ONE-PIN.md). Anything else there (not
		 * readable up to a NUL, or longer than JPKI_MAX_PARAMS) is the
		 * specification's CKR_ARGUMENTS_BAD. */
		if (a.pReserved != NULL_PTR) {
			n = jpki_safe_string(params, sizeof params, a.pReserved);
			if (n < 0)
				return goInitializeRefused(CKR_ARGUMENTS_BAD,
					(char *)"pReserved is neither NULL nor a readable NUL-terminated string of at most "
					JPKI_XSTR(JPKI_MAX_PARAMS) " bytes");
		}
	}
	if (n < 0)
		return goInitialize(NULL, 0);
	return goInitialize(params, (size_t)n);
}

CK_RV C_Finalize(CK_VOID_PTR pReserved)
{
	CK_RV rv = jpki_guard();
	if (rv != CKR_OK)
		return rv;
	if (pReserved != NULL_PTR)
		return CKR_ARGUMENTS_BAD;
	return goFinalize();
}

/* Copies s into a fixed-width field, padded with spaces (s is ASCII here). */
static void pad(CK_UTF8CHAR *dst, size_t width, const char *s)
{
	size_t n = strlen(s);
	if (n > width)
		n = width;
	memset(dst, ' ', width);
	memcpy(dst, s, n);
}

static CK_RV get_info(CK_INFO_PTR pInfo, CK_BYTE major, CK_BYTE minor)
{
	CK_RV rv = jpki_guard();
	if (rv != CKR_OK)
		return rv;
	if (pInfo == NULL_PTR)
		return CKR_ARGUMENTS_BAD;
	memset(pInfo, 0, sizeof *pInfo);
	pInfo->cryptokiVersion.major = major;
	pInfo->cryptokiVersion.minor = minor;
	pad(pInfo->manufacturerID, sizeof pInfo->manufacturerID, "jpki-pkcs11");
	pInfo->flags = 0;
	pad(pInfo->libraryDescription, sizeof pInfo->libraryDescription, "JPKI My Number Card");
	pInfo->libraryVersion.major = JPKI_LIBRARY_VERSION_MAJOR;
	pInfo->libraryVersion.minor = JPKI_LIBRARY_VERSION_MINOR;
	return CKR_OK;
}

/* C_GetInfo of the 2.40 function list (the exported symbol) says 2.40. */
CK_RV C_GetInfo(CK_INFO_PTR pInfo) { return get_info(pInfo, 2, 40); }

/* C_GetInfo of the 3.0 function list says 3.0. */
static CK_RV get_info_3_0(CK_INFO_PTR pInfo) { return get_info(pInfo, 3, 0); }

#define JPKI_ENTRY(name, args) .name = name,

static const CK_FUNCTION_LIST function_list = {
	.version = {2, 40},
	CK_PKCS11_FUNCTIONS_2_40(JPKI_ENTRY)
};

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverride-init"
static const CK_FUNCTION_LIST_3_0 function_list_3_0 = {
	.version = {3, 0},
	CK_PKCS11_FUNCTIONS_2_40(JPKI_ENTRY)
	CK_PKCS11_FUNCTIONS_3_0(JPKI_ENTRY)
	.C_GetInfo = get_info_3_0,
};
#pragma GCC diagnostic pop

static CK_CHAR interface_name[] = "PKCS 11";

/* The interfaces, default (3.0) first. No flags: in particular never
 * CKF_INTERFACE_FORK_SAFE (see the fork guard). */
static CK_INTERFACE interfaces[] = {
	{interface_name, (CK_VOID_PTR)&function_list_3_0, 0},
	{interface_name, (CK_VOID_PTR)&function_list, 0},
};
#define N_INTERFACES (sizeof interfaces / sizeof interfaces[0])

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR ppFunctionList)
{
	if (ppFunctionList == NULL_PTR)
		return CKR_ARGUMENTS_BAD;
	*ppFunctionList = (CK_FUNCTION_LIST_PTR)&function_list;
	return CKR_OK;
}

CK_RV C_GetInterfaceList(CK_INTERFACE_PTR pInterfacesList, CK_ULONG_PTR pulCount)
{
	return jpki_interface_list(interfaces, N_INTERFACES, pInterfacesList, pulCount);
}

CK_RV C_GetInterface(CK_UTF8CHAR_PTR pInterfaceName, CK_VERSION_PTR pVersion,
		     CK_INTERFACE_PTR_PTR ppInterface, CK_FLAGS flags)
{
	return jpki_interface_find(interfaces, N_INTERFACES, pInterfaceName, pVersion, ppInterface, flags);
}
