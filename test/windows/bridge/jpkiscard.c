/*
 * jpkiscard.so: the Unix side of the test-only PC/SC bridge. Wine loads it as the Unix
 * library of the builtin jpkiscard.dll; winscard.dll (Windows side) calls these
 * functions through ntdll's __wine_unix_call. Each one converts a struct br_call to
 * pcsc-lite's types (64-bit DWORD, 33-byte ATR, bitmask card states) and back.
 * Return value: the pcsc-lite result as a 32-bit Windows SCARD_* code.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <winscard.h>
#include <reader.h>
#include "bridge.h"

#define P(v) ((void *)(uintptr_t)(v))
#define RC(r) ((int32_t)(uint32_t)(r))

static int32_t br_establish(struct br_call *c)
{
	SCARDCONTEXT ctx = 0;
	LONG r = SCardEstablishContext(c->a, NULL, NULL, &ctx);
	c->ctx = (uint64_t)ctx;
	return RC(r);
}

static int32_t br_release(struct br_call *c) { return RC(SCardReleaseContext(c->ctx)); }
static int32_t br_isvalid(struct br_call *c) { return RC(SCardIsValidContext(c->ctx)); }
static int32_t br_cancel(struct br_call *c) { return RC(SCardCancel(c->ctx)); }

/* out == 0: size query. The multi-string is UTF-8; the Windows side converts. */
static int32_t br_listreaders(struct br_call *c)
{
	DWORD n = c->out ? c->outlen : 0;
	LONG r = SCardListReaders(c->ctx, NULL, c->out ? P(c->out) : NULL, &n);
	c->outlen = (uint32_t)n;
	return RC(r);
}

static int32_t br_statuschange(struct br_call *c)
{
	struct br_reader *in = P(c->in);
	SCARD_READERSTATE *rs = calloc(c->inlen ? c->inlen : 1, sizeof(*rs));
	uint32_t i;
	LONG r;

	if (!rs) return RC(SCARD_E_NO_MEMORY);
	for (i = 0; i < c->inlen; i++) {
		rs[i].szReader = P(in[i].name);
		rs[i].dwCurrentState = in[i].current;
		rs[i].cbAtr = in[i].atrlen > MAX_ATR_SIZE ? MAX_ATR_SIZE : in[i].atrlen;
		memcpy(rs[i].rgbAtr, in[i].atr, rs[i].cbAtr);
	}
	r = SCardGetStatusChange(c->ctx, c->c, rs, c->inlen);
	for (i = 0; i < c->inlen; i++) {
		in[i].event = (uint32_t)rs[i].dwEventState;
		in[i].atrlen = (uint32_t)rs[i].cbAtr;
		memcpy(in[i].atr, rs[i].rgbAtr, rs[i].cbAtr);
	}
	free(rs);
	return RC(r);
}

static int32_t br_connect(struct br_call *c)
{
	SCARDHANDLE h = 0;
	DWORD proto = 0;
	LONG r = SCardConnect(c->ctx, P(c->in), c->a, c->b, &h, &proto);
	c->card = (uint64_t)h;
	c->out1 = (uint32_t)proto;
	return RC(r);
}

static int32_t br_reconnect(struct br_call *c)
{
	DWORD proto = 0;
	LONG r = SCardReconnect(c->card, c->a, c->b, c->c, &proto);
	c->out1 = (uint32_t)proto;
	return RC(r);
}

static int32_t br_disconnect(struct br_call *c) { return RC(SCardDisconnect(c->card, c->a)); }
static int32_t br_begin(struct br_call *c) { return RC(SCardBeginTransaction(c->card)); }
static int32_t br_end(struct br_call *c) { return RC(SCardEndTransaction(c->card, c->a)); }

/* pcsc-lite reports the card state as a bitmask, Windows as one value: the highest bit wins. */
static uint32_t win_state(DWORD s)
{
	uint32_t w = 0;
	int bit;

	for (bit = 6; bit >= 0; bit--)
		if (s & (1u << bit)) { w = (uint32_t)bit; break; }
	return w; /* SCARD_UNKNOWN(0x01)=0, ABSENT(0x02)=1, ..., SPECIFIC(0x40)=6 */
}

static int32_t br_status(struct br_call *c)
{
	char name[MAX_READERNAME];
	DWORD namelen = sizeof(name), state = 0, proto = 0, atrlen = MAX_ATR_SIZE;
	BYTE atr[MAX_ATR_SIZE];
	LONG r = SCardStatus(c->card, name, &namelen, &state, &proto, atr, &atrlen);

	if (r != SCARD_S_SUCCESS) return RC(r);
	c->out1 = (uint32_t)proto;
	c->out2 = win_state(state);
	c->outlen = (uint32_t)atrlen;
	memcpy(P(c->out), atr, atrlen);
	c->out2len = (uint32_t)namelen;
	if (namelen > 256) return RC(SCARD_E_INSUFFICIENT_BUFFER);
	memcpy(P(c->out2p), name, namelen);
	return 0;
}

static int32_t br_transmit(struct br_call *c)
{
	DWORD n = c->outlen;
	const SCARD_IO_REQUEST *pci = c->a == SCARD_PROTOCOL_T0 ? SCARD_PCI_T0 : SCARD_PCI_T1;
	LONG r = SCardTransmit(c->card, pci, P(c->in), c->inlen, NULL, P(c->out), &n);
	c->outlen = (uint32_t)n;
	return RC(r);
}

/* Windows SCARD_CTL_CODE(n) is 0x310000 | n << 2, pcsc-lite's is 0x42000000 + n. */
static int32_t br_control(struct br_call *c)
{
	DWORD code = c->a, n = 0;
	LONG r;

	if ((code & 0xffff0000u) == 0x310000u) code = SCARD_CTL_CODE((code >> 2) & 0x3fff);
	r = SCardControl(c->card, code, P(c->in), c->inlen, P(c->out), c->outlen, &n);
	c->outlen = (uint32_t)n;
	return RC(r);
}

static int32_t br_getattrib(struct br_call *c)
{
	DWORD n = c->out ? c->outlen : 0;
	LONG r = SCardGetAttrib(c->card, c->a, c->out ? P(c->out) : NULL, &n);
	c->outlen = (uint32_t)n;
	return RC(r);
}

static int32_t br_setattrib(struct br_call *c) { return RC(SCardSetAttrib(c->card, c->a, P(c->in), c->inlen)); }

typedef int32_t (*br_entry)(struct br_call *);

/* Wine's loader looks this table up by name in a builtin module's Unix library. */
const br_entry __wine_unix_call_funcs[BR_COUNT] = {
	br_establish, br_release, br_isvalid, br_cancel, br_listreaders, br_statuschange,
	br_connect, br_reconnect, br_disconnect, br_begin, br_end, br_status, br_transmit,
	br_control, br_getattrib, br_setattrib,
};
