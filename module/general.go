package main

/*
#include "shim.h"
*/
import "C"

import "github.com/jpki-pkcs11/jpki-pkcs11/ck"

// goInitialize is C_Initialize once the C side checked CK_C_INITIALIZE_ARGS and the
// fork guard (general.c). params/n is the module parameter string of pReserved,
// already bounded by the C side (NULL/0 when there is none).
//
//export goInitialize
func goInitialize(params *C.char, n C.size_t) C.CK_RV {
	return guarded("C_Initialize", func() ck.RV {
		p := ""
		if params != nil && n > 0 {
			p = C.GoStringN(params, C.int(n))
		}
		return initialize(p)
	})
}

// goInitializeRefused logs why the C side refused C_Initialize (rv, for the reason
// why) and returns rv. The library stays uninitialised; the debug log, if one is
// configured, is opened for this one line.
//
//export goInitializeRefused
func goInitializeRefused(rv C.CK_RV, why *C.char) C.CK_RV {
	return guarded("C_Initialize", func() ck.RV {
		r := ck.RV(rv)
		log, f := openLog()
		log.Warn("C_Initialize refused", "reason", C.GoString(why), "rv", r)
		if f != nil {
			f.Close()
		}
		return r
	})
}

// goFinalize is C_Finalize once the C side checked pReserved.
//
//export goFinalize
func goFinalize() C.CK_RV { return guarded("C_Finalize", finalize) }
