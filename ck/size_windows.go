//go:build windows

package ck

// ULongSize is the size in bytes of a C CK_ULONG: 4 on Windows (LLP64).
const ULongSize = 4
