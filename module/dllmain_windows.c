/*
 * dllmain_windows.c: keep the DLL loaded for the life of the process. A Go DLL
 * cannot be unloaded (its runtime threads keep running in the unmapped code), so the
 * module pins itself with GetModuleHandleEx(GET_MODULE_HANDLE_EX_FLAG_PIN): after
 * that, FreeLibrary is harmless. Done at DLL_PROCESS_ATTACH and again, idempotently,
 * at C_Initialize in case a host loads us in an unusual way.
 *
 * Exports: every C_* is __declspec(dllexport) (pkcs11.h with CK_BUILD_MODULE). Go's
 * linker would also export the goXxx bridge functions through its own .def file;
 * the DLL is therefore linked with -Wl,--export-all-symbols (which makes Go drop
 * that .def) and -Wl,--exclude-all-symbols (which stops ld's automatic exports), so
 * that exactly the C_* functions remain (Makefile, build/jpki-pkcs11.dll).
 */
#include <windows.h>

void jpki_pin_module(void)
{
	static volatile LONG pinned;
	HMODULE self;
	if (InterlockedCompareExchange(&pinned, 1, 0) != 0)
		return;
	GetModuleHandleExW(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_PIN,
			   (LPCWSTR)(void *)&jpki_pin_module, &self);
}

BOOL WINAPI DllMain(HINSTANCE inst, DWORD reason, LPVOID reserved)
{
	(void)inst;
	(void)reserved;
	if (reason == DLL_PROCESS_ATTACH)
		jpki_pin_module();
	return TRUE;
}
