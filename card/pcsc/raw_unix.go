//go:build !windows

package pcsc

/*
#cgo !darwin pkg-config: libpcsclite
#cgo darwin LDFLAGS: -framework PCSC
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef __APPLE__
#include <PCSC/winscard.h>
#include <PCSC/wintypes.h>
#else
#include <winscard.h>
#endif

// One reader of jpki_status_change, in C memory: the state the caller knows goes
// in, the state PC/SC reports and the card's ATR come out.
typedef struct {
	uint32_t current, event, atrlen;
	unsigned char atr[36];
} jpki_reader;

static int64_t jpki_establish(uintptr_t *ctx)
{
	SCARDCONTEXT c = 0;
	LONG r = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &c);
	*ctx = (uintptr_t)c;
	return r;
}

static int64_t jpki_release(uintptr_t ctx) { return SCardReleaseContext((SCARDCONTEXT)ctx); }
static int64_t jpki_cancel(uintptr_t ctx) { return SCardCancel((SCARDCONTEXT)ctx); }

// buf NULL: *len gets the size of the reader multi-string.
static int64_t jpki_list_readers(uintptr_t ctx, char *buf, uint32_t *len)
{
	DWORD n = buf ? *len : 0;
	LONG r = SCardListReaders((SCARDCONTEXT)ctx, NULL, buf, &n);
	*len = (uint32_t)n;
	return r;
}

// names: n NUL-terminated reader names one after the other. timeout in ms,
// 0xFFFFFFFF for INFINITE.
static int64_t jpki_status_change(uintptr_t ctx, uint32_t timeout, const char *names, jpki_reader *rd, uint32_t n)
{
	SCARD_READERSTATE *rs = calloc(n ? n : 1, sizeof *rs);
	const char *p = names;
	uint32_t i;
	LONG r;

	if (rs == NULL)
		return SCARD_E_NO_MEMORY;
	for (i = 0; i < n; i++) {
		rs[i].szReader = p;
		rs[i].dwCurrentState = rd[i].current;
		p += strlen(p) + 1;
	}
	r = SCardGetStatusChange((SCARDCONTEXT)ctx, timeout == 0xFFFFFFFFu ? INFINITE : timeout, rs, n);
	for (i = 0; i < n; i++) {
		size_t l = rs[i].cbAtr < sizeof rd[i].atr ? rs[i].cbAtr : sizeof rd[i].atr;
		rd[i].event = (uint32_t)rs[i].dwEventState;
		rd[i].atrlen = (uint32_t)l;
		memcpy(rd[i].atr, rs[i].rgbAtr, l);
	}
	free(rs);
	return r;
}
*/
import "C"

import (
	"strings"
	"unsafe"

	"github.com/ebfe/scard"
)

// rawContext is a PC/SC context of this package's own (pcsc-lite or the PCSC
// framework), for the reader-state calls: listing readers and
// SCardGetStatusChange, the blocking one included. Everything it hands PC/SC
// lives in C memory, so a call may block for as long as it likes beside other
// calls (ebfe/scard keeps the reader names of GetStatusChange in a package-level
// map of Go buffers, which concurrent calls race on and replace: see
// docs/ROBUSTNESS.md).
type rawContext uintptr

func rawErr(r C.int64_t) error {
	if r == 0 {
		return nil
	}
	return scard.Error(uint32(r))
}

func establishRaw() (rawContext, error) {
	var c C.uintptr_t
	if err := rawErr(C.jpki_establish(&c)); err != nil {
		return 0, err
	}
	return rawContext(c), nil
}

func (c rawContext) release() error { return rawErr(C.jpki_release(C.uintptr_t(c))) }

// cancel wakes a status change blocked on c (SCardCancel; safe from any thread).
func (c rawContext) cancel() error { return rawErr(C.jpki_cancel(C.uintptr_t(c))) }

// listReaders lists the reader names.
func (c rawContext) listReaders() ([]string, error) {
	for {
		var n C.uint32_t
		if err := rawErr(C.jpki_list_readers(C.uintptr_t(c), nil, &n)); err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, nil
		}
		buf := (*C.char)(C.malloc(C.size_t(n)))
		got := n
		err := rawErr(C.jpki_list_readers(C.uintptr_t(c), buf, &got))
		s := C.GoStringN(buf, C.int(got))
		C.free(unsafe.Pointer(buf))
		if err == scard.ErrInsufficientBuffer {
			continue // a reader was added between the two calls
		}
		if err != nil {
			return nil, err
		}
		return splitMulti(s), nil
	}
}

// splitMulti splits a PC/SC multi-string (names ended by NUL, then one more NUL).
func splitMulti(s string) []string {
	var out []string
	for _, n := range strings.Split(s, "\x00") {
		if n != "" {
			out = append(out, n)
		}
	}
	return out
}

// statusChange is SCardGetStatusChange on rs (timeout in ms, infinite for
// none): current goes in, event and atr come back (also on a timeout, when
// PC/SC filled them in).
func (c rawContext) statusChange(timeout uint32, rs []readerState) error {
	n := len(rs)
	var names strings.Builder
	for _, r := range rs {
		names.WriteString(r.name)
		names.WriteByte(0)
	}
	cnames := C.CString(names.String())
	defer C.free(unsafe.Pointer(cnames))
	rd := (*C.jpki_reader)(C.calloc(C.size_t(max(n, 1)), C.size_t(unsafe.Sizeof(C.jpki_reader{}))))
	defer C.free(unsafe.Pointer(rd))
	crs := unsafe.Slice(rd, max(n, 1))[:n]
	for i, r := range rs {
		crs[i].current = C.uint32_t(r.current)
	}
	err := rawErr(C.jpki_status_change(C.uintptr_t(c), C.uint32_t(timeout), cnames, rd, C.uint32_t(n)))
	for i := range rs {
		rs[i].event = scard.StateFlag(crs[i].event)
		rs[i].atr = C.GoBytes(unsafe.Pointer(&crs[i].atr[0]), C.int(crs[i].atrlen))
	}
	return err
}
