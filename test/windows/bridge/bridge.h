/*
 * The calls between winscard.dll (Windows side, PE) and jpkiscard.so (Unix side, ELF)
 * of the test-only PC/SC bridge. Both sides are built from this header by different
 * compilers (mingw-w64 and gcc), so it uses fixed-width types only: handles and
 * pointers are 64 bits on both sides of x86-64 Wine (one address space), Windows DWORDs
 * are 32 bits, pcsc-lite's are 64. Strings are UTF-8 on this interface.
 */
#ifndef JPKI_BRIDGE_H
#define JPKI_BRIDGE_H

#include <stdint.h>

/* Function numbers: indexes into the Unix side's __wine_unix_call_funcs. */
enum bridge_fn {
	BR_ESTABLISH, BR_RELEASE, BR_ISVALID, BR_CANCEL, BR_LISTREADERS, BR_STATUSCHANGE,
	BR_CONNECT, BR_RECONNECT, BR_DISCONNECT, BR_BEGIN, BR_END, BR_STATUS, BR_TRANSMIT,
	BR_CONTROL, BR_GETATTRIB, BR_SETATTRIB, BR_COUNT
};

/* One call's arguments; which fields are used depends on the function (see jpkiscard.c). */
struct br_call {
	uint64_t ctx, card;           /* SCARDCONTEXT, SCARDHANDLE */
	uint32_t a, b, c;             /* scope, share mode, protocols, disposition, ioctl, attribute id, timeout */
	uint32_t out1, out2;          /* active protocol, state */
	uint64_t in;                  /* const void * : command, reader name, readers array */
	uint32_t inlen;
	uint64_t out;                 /* void * : response, multi-string, ATR */
	uint32_t outlen;              /* in: capacity of out (0 = size query); out: size needed or used */
	uint64_t out2p;               /* second output buffer (reader name of SCardStatus) */
	uint32_t out2len;
};

/* One reader of SCardGetStatusChange, as passed in br_call.in (count in inlen). */
struct br_reader {
	uint64_t name;                /* const char *, UTF-8 */
	uint32_t current, event, atrlen;
	uint8_t atr[36];
};

#endif
