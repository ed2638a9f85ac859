//go:build windows

// Command godll is a c-shared Windows DLL for checking the Wine test setup before the
// real module exists: the Go runtime starts under Wine (bcryptprimitives.dll's
// ProcessPrng) and github.com/ebfe/scard reaches the private pcscd through the
// winscard bridge. Built only by test/windows/run.sh.
package main

import "C"

import (
	"strings"
	"unsafe"

	"github.com/ebfe/scard"
)

// SmokeReaders writes the PC/SC reader names, one per line, into buf (NUL-terminated,
// truncated to n bytes) and returns the number of readers, or -1 on a PC/SC error.
//
//export SmokeReaders
func SmokeReaders(buf *C.char, n C.int) C.int {
	ctx, err := scard.EstablishContext()
	if err != nil {
		return put(buf, n, err.Error(), -1)
	}
	defer ctx.Release()
	readers, err := ctx.ListReaders()
	if err != nil {
		return put(buf, n, err.Error(), -1)
	}
	return put(buf, n, strings.Join(readers, "\n"), C.int(len(readers)))
}

func put(buf *C.char, n C.int, s string, ret C.int) C.int {
	if n <= 0 {
		return ret
	}
	out := unsafe.Slice((*byte)(unsafe.Pointer(buf)), int(n))
	k := copy(out[:n-1], s)
	out[k] = 0
	return ret
}

func main() {}
