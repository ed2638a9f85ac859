package main

/*
#include "shim.h"
*/
import "C"

// goInitialize is C_Initialize once the C side checked CK_C_INITIALIZE_ARGS and the
// fork guard (general.c).
//
//export goInitialize
func goInitialize() C.CK_RV { return guarded("C_Initialize", initialize) }

// goFinalize is C_Finalize once the C side checked pReserved.
//
//export goFinalize
func goFinalize() C.CK_RV { return guarded("C_Finalize", finalize) }
