/*
 * winscard.dll for Wine (test infrastructure only): Wine 8.0's own winscard.dll is a
 * stub, so this one forwards every SCard* call to the Unix library of the builtin
 * jpkiscard.dll (jpkiscard.so, which calls pcsc-lite) through ntdll's __wine_unix_call.
 * Installed as a native DLL in the prefix's system32 (WINEDLLOVERRIDES=winscard=n).
 * Here: Windows buffer conventions, UTF-16 <-> UTF-8, 32-bit DWORDs.
 */
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#include <stdint.h>
#include <string.h>
#include "bridge.h"

#define SCARD_AUTOALLOCATE ((DWORD)-1)
#define MEMORY_WINE_UNIX_FUNCS 1000 /* MEMORY_INFORMATION_CLASS MemoryWineUnixFuncs (Wine's winternl.h) */

typedef struct { DWORD dwProtocol, cbPciLength; } IO_REQUEST;
typedef struct { LPCSTR szReader; LPVOID pvUserData; DWORD dwCurrentState, dwEventState, cbAtr; BYTE rgbAtr[36]; } RSA;
typedef struct { LPCWSTR szReader; LPVOID pvUserData; DWORD dwCurrentState, dwEventState, cbAtr; BYTE rgbAtr[36]; } RSW;

/* The protocol control information Windows programs pass to SCardTransmit (exported data). */
__declspec(dllexport) const IO_REQUEST g_rgSCardT0Pci = { 1, sizeof(IO_REQUEST) };
__declspec(dllexport) const IO_REQUEST g_rgSCardT1Pci = { 2, sizeof(IO_REQUEST) };
__declspec(dllexport) const IO_REQUEST g_rgSCardRawPci = { 0x10000, sizeof(IO_REQUEST) };

typedef LONG (WINAPI *unix_call_fn)(uint64_t, unsigned int, void *);
typedef LONG (WINAPI *query_fn)(HANDLE, void *, int, void *, SIZE_T, SIZE_T *);
static unix_call_fn unix_call;
static uint64_t unix_handle;
static INIT_ONCE once = INIT_ONCE_STATIC_INIT;

static BOOL CALLBACK init(INIT_ONCE *o, void *p, void **ctx)
{
	HMODULE nt = GetModuleHandleW(L"ntdll.dll"), lib = LoadLibraryW(L"jpkiscard.dll");
	query_fn query = nt ? (query_fn)(void *)GetProcAddress(nt, "NtQueryVirtualMemory") : NULL;

	(void)o; (void)p; (void)ctx;
	unix_call = nt ? (unix_call_fn)(void *)GetProcAddress(nt, "__wine_unix_call") : NULL;
	if (!lib || !query || !unix_call || query(GetCurrentProcess(), lib, MEMORY_WINE_UNIX_FUNCS,
		&unix_handle, sizeof(unix_handle), NULL) != 0)
		unix_handle = 0;
	return TRUE;
}

static LONG call(enum bridge_fn fn, struct br_call *c)
{
	InitOnceExecuteOnce(&once, init, NULL, NULL);
	return unix_handle ? unix_call(unix_handle, fn, c) : (LONG)SCARD_E_NO_SERVICE;
}

static char *utf8(LPCWSTR w)
{
	int n = WideCharToMultiByte(CP_UTF8, 0, w, -1, NULL, 0, NULL, NULL);
	char *s = n > 0 ? HeapAlloc(GetProcessHeap(), 0, n) : NULL;
	if (s) WideCharToMultiByte(CP_UTF8, 0, w, -1, s, n, NULL, NULL);
	return s;
}

static void release(void *p) { if (p) HeapFree(GetProcessHeap(), 0, p); }

/* give answers the Windows way: size query (buf NULL), SCARD_AUTOALLOCATE, or copy. */
static LONG give(const void *src, DWORD n, DWORD unit, void *buf, DWORD *len)
{
	if (!len) return SCARD_E_INVALID_PARAMETER;
	if (!buf) { *len = n; return SCARD_S_SUCCESS; }
	if (*len == SCARD_AUTOALLOCATE) {
		void *p = HeapAlloc(GetProcessHeap(), 0, (SIZE_T)n * unit + 1);
		if (!p) return SCARD_E_NO_MEMORY;
		memcpy(p, src, (SIZE_T)n * unit);
		*(void **)buf = p;
		*len = n;
		return SCARD_S_SUCCESS;
	}
	if (*len < n) { *len = n; return SCARD_E_INSUFFICIENT_BUFFER; }
	memcpy(buf, src, (SIZE_T)n * unit);
	*len = n;
	return SCARD_S_SUCCESS;
}

LONG WINAPI SCardEstablishContext(DWORD scope, LPCVOID r1, LPCVOID r2, ULONG_PTR *ctx)
{
	struct br_call c = { .a = scope };
	LONG r;
	(void)r1; (void)r2;
	if (!ctx) return SCARD_E_INVALID_PARAMETER;
	r = call(BR_ESTABLISH, &c);
	*ctx = (ULONG_PTR)c.ctx;
	return r;
}

LONG WINAPI SCardReleaseContext(ULONG_PTR ctx) { struct br_call c = { .ctx = ctx }; return call(BR_RELEASE, &c); }
LONG WINAPI SCardIsValidContext(ULONG_PTR ctx) { struct br_call c = { .ctx = ctx }; return call(BR_ISVALID, &c); }
LONG WINAPI SCardCancel(ULONG_PTR ctx) { struct br_call c = { .ctx = ctx }; return call(BR_CANCEL, &c); }
LONG WINAPI SCardFreeMemory(ULONG_PTR ctx, LPCVOID mem) { (void)ctx; release((void *)mem); return SCARD_S_SUCCESS; }

/* the UTF-8 multi-string of reader names from the Unix side (caller frees). */
static LONG readers(ULONG_PTR ctx, char **out, DWORD *outlen)
{
	for (;;) {
		struct br_call c = { .ctx = ctx };
		LONG r = call(BR_LISTREADERS, &c);
		if (r != SCARD_S_SUCCESS) return r;
		c.out = (uint64_t)(uintptr_t)HeapAlloc(GetProcessHeap(), 0, c.outlen + 1);
		if (!c.out) return SCARD_E_NO_MEMORY;
		r = call(BR_LISTREADERS, &c);
		if (r == (LONG)SCARD_E_INSUFFICIENT_BUFFER) { release((void *)(uintptr_t)c.out); continue; }
		if (r != SCARD_S_SUCCESS) { release((void *)(uintptr_t)c.out); return r; }
		*out = (char *)(uintptr_t)c.out;
		*outlen = c.outlen;
		return r;
	}
}

LONG WINAPI SCardListReadersA(ULONG_PTR ctx, LPCSTR groups, LPSTR buf, DWORD *len)
{
	char *s; DWORD n; LONG r;
	(void)groups;
	if ((r = readers(ctx, &s, &n)) != SCARD_S_SUCCESS) return r;
	r = give(s, n, 1, buf, len);
	release(s);
	return r;
}

LONG WINAPI SCardListReadersW(ULONG_PTR ctx, LPCWSTR groups, LPWSTR buf, DWORD *len)
{
	char *s; DWORD n; LONG r; WCHAR *w; int wn;
	(void)groups;
	if ((r = readers(ctx, &s, &n)) != SCARD_S_SUCCESS) return r;
	wn = MultiByteToWideChar(CP_UTF8, 0, s, (int)n, NULL, 0);
	w = HeapAlloc(GetProcessHeap(), 0, (wn + 1) * sizeof(WCHAR));
	if (!w) { release(s); return SCARD_E_NO_MEMORY; }
	MultiByteToWideChar(CP_UTF8, 0, s, (int)n, w, wn);
	r = give(w, (DWORD)wn, sizeof(WCHAR), buf, len);
	release(w); release(s);
	return r;
}

LONG WINAPI SCardListReaderGroupsA(ULONG_PTR ctx, LPSTR buf, DWORD *len)
{
	(void)ctx;
	return give("SCard$DefaultReaders\0", 22, 1, buf, len);
}

LONG WINAPI SCardListReaderGroupsW(ULONG_PTR ctx, LPWSTR buf, DWORD *len)
{
	(void)ctx;
	return give(L"SCard$DefaultReaders\0", 22, sizeof(WCHAR), buf, len);
}

/* states: RSA or RSW array; wide selects which, names converted to UTF-8. */
static LONG status_change(ULONG_PTR ctx, DWORD timeout, void *states, DWORD n, BOOL wide)
{
	struct br_reader *br = HeapAlloc(GetProcessHeap(), HEAP_ZERO_MEMORY, (n + 1) * sizeof(*br));
	struct br_call c = { .ctx = ctx, .c = timeout, .inlen = n };
	LONG r = SCARD_S_SUCCESS;
	DWORD i;

	if (!br) return SCARD_E_NO_MEMORY;
	for (i = 0; i < n; i++) {
		RSA *a = (RSA *)states + i; RSW *w = (RSW *)states + i;
		br[i].name = (uint64_t)(uintptr_t)(wide ? utf8(w->szReader) : a->szReader);
		br[i].current = wide ? w->dwCurrentState : a->dwCurrentState;
		br[i].atrlen = wide ? w->cbAtr : a->cbAtr;
		if (br[i].atrlen > 36) br[i].atrlen = 36;
		memcpy(br[i].atr, wide ? w->rgbAtr : a->rgbAtr, br[i].atrlen);
		if (!br[i].name) r = SCARD_E_NO_MEMORY;
	}
	c.in = (uint64_t)(uintptr_t)br;
	if (r == SCARD_S_SUCCESS) r = call(BR_STATUSCHANGE, &c);
	for (i = 0; i < n; i++) {
		RSA *a = (RSA *)states + i; RSW *w = (RSW *)states + i;
		if (wide) { w->dwEventState = br[i].event; w->cbAtr = br[i].atrlen; memcpy(w->rgbAtr, br[i].atr, br[i].atrlen); release((void *)(uintptr_t)br[i].name); }
		else { a->dwEventState = br[i].event; a->cbAtr = br[i].atrlen; memcpy(a->rgbAtr, br[i].atr, br[i].atrlen); }
	}
	release(br);
	return r;
}

LONG WINAPI SCardGetStatusChangeA(ULONG_PTR ctx, DWORD t, RSA *s, DWORD n) { return status_change(ctx, t, s, n, FALSE); }
LONG WINAPI SCardGetStatusChangeW(ULONG_PTR ctx, DWORD t, RSW *s, DWORD n) { return status_change(ctx, t, s, n, TRUE); }

static LONG do_connect(ULONG_PTR ctx, const char *reader, DWORD share, DWORD protos, ULONG_PTR *card, DWORD *active)
{
	struct br_call c = { .ctx = ctx, .a = share, .b = protos, .in = (uint64_t)(uintptr_t)reader };
	LONG r;
	if (!reader || !card) return SCARD_E_INVALID_PARAMETER;
	r = call(BR_CONNECT, &c);
	*card = (ULONG_PTR)c.card;
	if (active) *active = c.out1;
	return r;
}

LONG WINAPI SCardConnectA(ULONG_PTR ctx, LPCSTR reader, DWORD share, DWORD protos, ULONG_PTR *card, DWORD *active)
{
	return do_connect(ctx, reader, share, protos, card, active);
}

LONG WINAPI SCardConnectW(ULONG_PTR ctx, LPCWSTR reader, DWORD share, DWORD protos, ULONG_PTR *card, DWORD *active)
{
	char *s = reader ? utf8(reader) : NULL;
	LONG r = do_connect(ctx, s, share, protos, card, active);
	release(s);
	return r;
}

LONG WINAPI SCardReconnect(ULONG_PTR card, DWORD share, DWORD protos, DWORD init, DWORD *active)
{
	struct br_call c = { .card = card, .a = share, .b = protos, .c = init };
	LONG r = call(BR_RECONNECT, &c);
	if (active) *active = c.out1;
	return r;
}

LONG WINAPI SCardDisconnect(ULONG_PTR card, DWORD d) { struct br_call c = { .card = card, .a = d }; return call(BR_DISCONNECT, &c); }
LONG WINAPI SCardBeginTransaction(ULONG_PTR card) { struct br_call c = { .card = card }; return call(BR_BEGIN, &c); }
LONG WINAPI SCardEndTransaction(ULONG_PTR card, DWORD d) { struct br_call c = { .card = card, .a = d }; return call(BR_END, &c); }

static LONG status(ULONG_PTR card, void *names, DWORD *nameslen, DWORD *state, DWORD *proto, BYTE *atr, DWORD *atrlen, BOOL wide)
{
	char name[260] = { 0 };
	BYTE a[36];
	struct br_call c = { .card = card, .out = (uint64_t)(uintptr_t)a, .out2p = (uint64_t)(uintptr_t)name };
	LONG r = call(BR_STATUS, &c);

	if (r != SCARD_S_SUCCESS) return r;
	if (state) *state = c.out2;
	if (proto) *proto = c.out1;
	if (atrlen && (r = give(a, c.outlen, 1, atr, atrlen)) != SCARD_S_SUCCESS) return r;
	if (!nameslen) return r;
	if (!wide) return give(name, c.out2len, 1, names, nameslen);
	{
		WCHAR w[260];
		int wn = MultiByteToWideChar(CP_UTF8, 0, name, (int)c.out2len, w, 260);
		return give(w, (DWORD)wn, sizeof(WCHAR), names, nameslen);
	}
}

LONG WINAPI SCardStatusA(ULONG_PTR card, LPSTR names, DWORD *nameslen, DWORD *state, DWORD *proto, BYTE *atr, DWORD *atrlen)
{
	return status(card, names, nameslen, state, proto, atr, atrlen, FALSE);
}

LONG WINAPI SCardStatusW(ULONG_PTR card, LPWSTR names, DWORD *nameslen, DWORD *state, DWORD *proto, BYTE *atr, DWORD *atrlen)
{
	return status(card, names, nameslen, state, proto, atr, atrlen, TRUE);
}

LONG WINAPI SCardTransmit(ULONG_PTR card, const IO_REQUEST *send, const BYTE *cmd, DWORD cmdlen, IO_REQUEST *recv, BYTE *rsp, DWORD *rsplen)
{
	struct br_call c = { .card = card, .in = (uint64_t)(uintptr_t)cmd, .inlen = cmdlen, .out = (uint64_t)(uintptr_t)rsp };
	LONG r;
	if (!send || !cmd || !rsp || !rsplen) return SCARD_E_INVALID_PARAMETER;
	c.a = send->dwProtocol;
	c.outlen = *rsplen;
	r = call(BR_TRANSMIT, &c);
	*rsplen = c.outlen;
	if (recv) recv->dwProtocol = send->dwProtocol;
	return r;
}

LONG WINAPI SCardControl(ULONG_PTR card, DWORD code, LPCVOID in, DWORD inlen, LPVOID out, DWORD outlen, DWORD *ret)
{
	struct br_call c = { .card = card, .a = code, .in = (uint64_t)(uintptr_t)in, .inlen = inlen, .out = (uint64_t)(uintptr_t)out, .outlen = outlen };
	LONG r = call(BR_CONTROL, &c);
	if (ret) *ret = c.outlen;
	return r;
}

LONG WINAPI SCardGetAttrib(ULONG_PTR card, DWORD id, BYTE *buf, DWORD *len)
{
	struct br_call c = { .card = card, .a = id, .out = (uint64_t)(uintptr_t)buf };
	LONG r;
	if (!len) return SCARD_E_INVALID_PARAMETER;
	if (*len == SCARD_AUTOALLOCATE) return SCARD_E_INVALID_PARAMETER;
	c.outlen = buf ? *len : 0;
	r = call(BR_GETATTRIB, &c);
	*len = c.outlen;
	return r;
}

LONG WINAPI SCardSetAttrib(ULONG_PTR card, DWORD id, const BYTE *buf, DWORD len)
{
	struct br_call c = { .card = card, .a = id, .in = (uint64_t)(uintptr_t)buf, .inlen = len };
	return call(BR_SETATTRIB, &c);
}
