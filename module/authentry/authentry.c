/*
 * authentry.c: jpki-pkcs11-auth.so, the authentication-only entry point of the
 * module. Programs that need a single login-required token (OpenSSL scripts with
 * pin-value, Java TLS client authentication, ssh-agent) load this file instead of
 * jpki-pkcs11.so and need no setting: it shows the authentication token alone.
 *
 * It is a few lines of C and no Go: it loads jpki-pkcs11.so from its own folder
 * and hands out that module's function lists, with C_Initialize wrapped to add the
 * module parameter "jpki-entry=auth" (module/options.go: it wins over
 * JPKI_PKCS11_TOKENS and tokens=). A process that loads both files therefore holds
 * one module, one Go runtime (the dynamic linker returns the loaded jpki-pkcs11.so
 * again), and the first C_Initialize decides what that process sees. A real file
 * and not a symbolic link because ssh-agent resolves links (realpath) before it
 * loads a provider: a link would be loaded as jpki-pkcs11.so.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include "pkcs11.h"
#include "shim.h"

/* The parameter word the module honours before everything else. */
#define ENTRY_PARAM "jpki-entry=auth"
/* Longest caller's parameter string passed on: with ENTRY_PARAM and a space it stays
 * within the module's own bound (JPKI_MAX_PARAMS, 4096 bytes, module/general.c). */
#define MAX_PARAMS (4096 - sizeof ENTRY_PARAM - 1)

static pthread_once_t once = PTHREAD_ONCE_INIT;
static CK_FUNCTION_LIST list;        /* the module's 2.40 list, C_Initialize wrapped */
static CK_FUNCTION_LIST_3_0 list_3_0; /* the module's 3.0 list, the same */
static CK_INTERFACE interfaces[2];
static CK_ULONG n_interfaces;
static CK_C_Initialize module_initialize;
static CK_RV load_rv = CKR_GENERAL_ERROR;

static CK_RV auth_initialize(CK_VOID_PTR pInitArgs);
CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR ppFunctionList);
CK_RV C_GetInterfaceList(CK_INTERFACE_PTR pInterfacesList, CK_ULONG_PTR pulCount);
CK_RV C_GetInterface(CK_UTF8CHAR_PTR pInterfaceName, CK_VERSION_PTR pVersion, CK_INTERFACE_PTR_PTR ppInterface,
		     CK_FLAGS flags);

/* load opens jpki-pkcs11.so beside this file and copies its function lists. */
static void load(void)
{
	Dl_info self;
	char path[4096];
	if (dladdr((void *)&load, &self) == 0 || self.dli_fname == NULL)
		return;
	const char *slash = strrchr(self.dli_fname, '/');
	int dirlen = slash ? (int)(slash - self.dli_fname) : 1;
	const char *dir = slash ? self.dli_fname : ".";
	if (snprintf(path, sizeof path, "%.*s/jpki-pkcs11.so", dirlen, dir) >= (int)sizeof path)
		return;
	/* RTLD_NODELETE: a Go library must never be unloaded. */
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
	if (h == NULL)
		return;
	CK_C_GetFunctionList gfl = (CK_C_GetFunctionList)dlsym(h, "C_GetFunctionList");
	CK_C_GetInterface gi = (CK_C_GetInterface)dlsym(h, "C_GetInterface");
	CK_FUNCTION_LIST_PTR fl = NULL;
	if (gfl == NULL || gfl(&fl) != CKR_OK || fl == NULL)
		return;
	list = *fl;
	module_initialize = fl->C_Initialize;
	list.C_Initialize = auth_initialize;
	list.C_GetFunctionList = C_GetFunctionList;
	n_interfaces = 0;
	CK_VERSION v30 = {3, 0};
	CK_INTERFACE_PTR it = NULL;
	if (gi != NULL && gi((CK_UTF8CHAR_PTR) "PKCS 11", &v30, &it, 0) == CKR_OK && it != NULL) {
		list_3_0 = *(CK_FUNCTION_LIST_3_0 *)it->pFunctionList;
		list_3_0.C_Initialize = auth_initialize;
		list_3_0.C_GetFunctionList = C_GetFunctionList;
		/* this file's, so that a list asked for through the 3.0 list is this
		 * file's too (the module's own would skip the entry parameter) */
		list_3_0.C_GetInterfaceList = C_GetInterfaceList;
		list_3_0.C_GetInterface = C_GetInterface;
		interfaces[n_interfaces++] = (CK_INTERFACE){(CK_CHAR *)"PKCS 11", &list_3_0, 0};
	}
	interfaces[n_interfaces++] = (CK_INTERFACE){(CK_CHAR *)"PKCS 11", &list, 0};
	load_rv = CKR_OK;
}

static CK_RV loaded(void)
{
	pthread_once(&once, load);
	return load_rv;
}

/* auth_initialize is the module's C_Initialize with ENTRY_PARAM put before the
 * caller's module parameters (pReserved, as NSS and p11-kit pass them). What the
 * caller handed over is read without faulting (module/saferead.c, the module's own
 * reader): arguments that cannot be read whole go to the module unchanged, which
 * answers CKR_ARGUMENTS_BAD for them as it does through jpki-pkcs11.so. */
static CK_RV auth_initialize(CK_VOID_PTR pInitArgs)
{
	CK_C_INITIALIZE_ARGS args;
	char given[MAX_PARAMS + 1];
	char params[sizeof ENTRY_PARAM + 1 + MAX_PARAMS + 1];
	long n = 0;
	memset(&args, 0, sizeof args);
	if (pInitArgs != NULL_PTR && jpki_safe_read(&args, pInitArgs, sizeof args) != 0)
		return module_initialize(pInitArgs);
	if (args.pReserved != NULL_PTR) {
		n = jpki_safe_string(given, sizeof given, args.pReserved);
		if (n < 0)
			return module_initialize(pInitArgs); /* unreadable or too long */
	}
	memcpy(params, ENTRY_PARAM, sizeof ENTRY_PARAM - 1);
	size_t off = sizeof ENTRY_PARAM - 1;
	if (n > 0) {
		params[off++] = ' ';
		memcpy(params + off, given, (size_t)n);
		off += (size_t)n;
	}
	params[off] = '\0';
	args.pReserved = params;
	return module_initialize(&args);
}

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR ppFunctionList)
{
	if (ppFunctionList == NULL_PTR)
		return CKR_ARGUMENTS_BAD;
	CK_RV rv = loaded();
	if (rv != CKR_OK)
		return rv;
	*ppFunctionList = &list;
	return CKR_OK;
}

CK_RV C_GetInterfaceList(CK_INTERFACE_PTR pInterfacesList, CK_ULONG_PTR pulCount)
{
	if (pulCount == NULL_PTR)
		return CKR_ARGUMENTS_BAD;
	CK_RV rv = loaded();
	if (rv != CKR_OK)
		return rv;
	return jpki_interface_list(interfaces, n_interfaces, pInterfacesList, pulCount);
}

CK_RV C_GetInterface(CK_UTF8CHAR_PTR pInterfaceName, CK_VERSION_PTR pVersion,
		     CK_INTERFACE_PTR_PTR ppInterface, CK_FLAGS flags)
{
	if (ppInterface == NULL_PTR)
		return CKR_ARGUMENTS_BAD;
	CK_RV rv = loaded();
	if (rv != CKR_OK)
		return rv;
	return jpki_interface_find(interfaces, n_interfaces, pInterfaceName, pVersion, ppInterface, flags);
}
