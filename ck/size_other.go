//go:build !windows

package ck

// ULongSize is the size in bytes of a C CK_ULONG: 8 on LP64 systems.
const ULongSize = 8
