/*
 * jpkiscard.dll: an empty DLL marked as a Wine builtin (winebuild --builtin) so that
 * Wine loads its Unix library, jpkiscard.so, from the same WINEDLLPATH directory.
 * winscard.dll asks ntdll for that library's call table through this module's handle.
 */
#include <windows.h>

BOOL WINAPI DllMain(HINSTANCE h, DWORD reason, LPVOID reserved)
{
	(void)h; (void)reason; (void)reserved;
	return TRUE;
}
