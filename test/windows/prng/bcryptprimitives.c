/*
 * bcryptprimitives.dll for Wine 8 (test infrastructure only): the Go runtime on Windows
 * fills its random state with ProcessPrng from bcryptprimitives.dll, which Wine 8.0 does
 * not have. This one implements it with bcrypt.dll's BCryptGenRandom (system RNG).
 */
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#include <bcrypt.h>

__declspec(dllexport) BOOL WINAPI ProcessPrng(BYTE *data, SIZE_T len)
{
	while (len > 0) {
		ULONG n = len > 0x40000000 ? 0x40000000 : (ULONG)len;
		if (!BCRYPT_SUCCESS(BCryptGenRandom(NULL, data, n, BCRYPT_USE_SYSTEM_PREFERRED_RNG)))
			return FALSE;
		data += n;
		len -= n;
	}
	return TRUE;
}
