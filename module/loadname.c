/*
 * loadname.c: the file name this library was loaded under. One library file serves
 * two entry points: jpki-pkcs11.so (both tokens) and jpki-pkcs11-auth.so, a symbolic
 * link to it for programs that need a single login-required token (options.go). A
 * link, not a copy: a process that loads both names gets one object from the
 * dynamic linker (same file), never a second Go runtime. The name is the one the
 * first load used (dladdr reports the loaded object's name).
 */
#ifndef _WIN32
#define _GNU_SOURCE
#include <dlfcn.h>
#else
#include <windows.h>
#endif
#include <string.h>
#include "shim.h"

size_t jpki_loaded_name(char *buf, size_t n)
{
	if (buf == NULL || n == 0)
		return 0;
	buf[0] = '\0';
#ifndef _WIN32
	Dl_info info;
	if (dladdr((void *)&jpki_loaded_name, &info) == 0 || info.dli_fname == NULL)
		return 0;
	size_t len = strlen(info.dli_fname);
	if (len >= n)
		return 0;
	memcpy(buf, info.dli_fname, len + 1);
	return len;
#else
	HMODULE self;
	if (!GetModuleHandleExA(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
				(LPCSTR)(void *)&jpki_loaded_name, &self))
		return 0;
	DWORD len = GetModuleFileNameA(self, buf, (DWORD)n);
	if (len == 0 || len >= n)
		return 0;
	return len;
#endif
}
