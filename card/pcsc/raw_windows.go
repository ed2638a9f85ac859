package pcsc

import (
	"runtime"
	"syscall"
	"unsafe"

	"github.com/ebfe/scard"
)

// winscard.dll, loaded on first use as ebfe/scard does (the module imports only
// KERNEL32 and msvcrt).
var (
	winscard           = syscall.NewLazyDLL("winscard.dll")
	procEstablish      = winscard.NewProc("SCardEstablishContext")
	procRelease        = winscard.NewProc("SCardReleaseContext")
	procCancel         = winscard.NewProc("SCardCancel")
	procListReadersW   = winscard.NewProc("SCardListReadersW")
	procStatusChangeW  = winscard.NewProc("SCardGetStatusChangeW")
	scardScopeSystem   = uintptr(2)
	scardInfiniteValue = uintptr(0xFFFFFFFF)
)

// rawContext is a PC/SC context of this package's own (winscard.dll), for the
// reader-state calls: listing readers and SCardGetStatusChange, the blocking one
// included. The reader names it hands winscard are kept alive until the call
// returns (ebfe/scard keeps nothing alive for GetStatusChange on Windows: see
// docs/ROBUSTNESS.md).
type rawContext uintptr

func rawErr(r uintptr) error {
	if uint32(r) == 0 {
		return nil
	}
	return scard.Error(uint32(r))
}

func callProc(p *syscall.LazyProc, args ...uintptr) error {
	if err := p.Find(); err != nil {
		return scard.ErrNoService
	}
	r, _, _ := p.Call(args...)
	return rawErr(r)
}

func establishRaw() (rawContext, error) {
	var c uintptr
	if err := callProc(procEstablish, scardScopeSystem, 0, 0, uintptr(unsafe.Pointer(&c))); err != nil {
		return 0, err
	}
	return rawContext(c), nil
}

func (c rawContext) release() error { return callProc(procRelease, uintptr(c)) }

// cancel wakes a status change blocked on c (SCardCancel; safe from any thread).
func (c rawContext) cancel() error { return callProc(procCancel, uintptr(c)) }

// listReaders lists the reader names.
func (c rawContext) listReaders() ([]string, error) {
	for {
		var n uint32
		if err := callProc(procListReadersW, uintptr(c), 0, 0, uintptr(unsafe.Pointer(&n))); err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, nil
		}
		buf := make([]uint16, n)
		err := callProc(procListReadersW, uintptr(c), 0, uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&n)))
		if err == scard.ErrInsufficientBuffer {
			continue // a reader was added between the two calls
		}
		if err != nil {
			return nil, err
		}
		var out []string
		for start, i := 0, 0; i < int(n) && i < len(buf); i++ {
			if buf[i] == 0 {
				if i > start {
					out = append(out, syscall.UTF16ToString(buf[start:i]))
				}
				start = i + 1
			}
		}
		return out, nil
	}
}

// readerStateW is SCARD_READERSTATEW (x64, natural alignment).
type readerStateW struct {
	reader   *uint16
	userData uintptr
	current  uint32
	event    uint32
	atrLen   uint32
	atr      [36]byte
}

// statusChange is SCardGetStatusChangeW on rs (timeout in ms, infinite for
// none): current goes in, event and atr come back.
func (c rawContext) statusChange(timeout uint32, rs []readerState) error {
	if len(rs) == 0 {
		return nil
	}
	ws := make([]readerStateW, len(rs))
	for i, r := range rs {
		name, err := syscall.UTF16PtrFromString(r.name)
		if err != nil {
			return scard.ErrInvalidValue
		}
		ws[i].reader = name
		ws[i].current = uint32(r.current)
	}
	t := uintptr(timeout)
	if timeout == infinite {
		t = scardInfiniteValue
	}
	err := callProc(procStatusChangeW, uintptr(c), t, uintptr(unsafe.Pointer(&ws[0])), uintptr(len(ws)))
	runtime.KeepAlive(ws) // and through it the names, until winscard is done with them
	for i := range rs {
		rs[i].event = scard.StateFlag(ws[i].event)
		rs[i].atr = append([]byte(nil), ws[i].atr[:min(int(ws[i].atrLen), len(ws[i].atr))]...)
	}
	return err
}
