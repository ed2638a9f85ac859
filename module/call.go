package main

/*
#include "shim.h"
*/
import "C"

import (
	"context"
	"errors"
	"log/slog"
	"runtime/debug"

	"github.com/jpki-pkcs11/jpki-pkcs11/ck"
	"github.com/jpki-pkcs11/jpki-pkcs11/session"
)

// rvOf maps an error to the CK_RV the caller gets: nil is CKR_OK, a ck.RV anywhere in
// the chain is itself, anything else is CKR_GENERAL_ERROR. This is the module's only
// error mapping; session/ already returns ck.RV values.
func rvOf(err error) ck.RV {
	if err == nil {
		return ck.CKR_OK
	}
	var rv ck.RV
	if errors.As(err, &rv) {
		return rv
	}
	return ck.CKR_GENERAL_ERROR
}

// call runs the body of one C_* function against the current Manager: it answers
// CKR_CRYPTOKI_NOT_INITIALIZED without one, turns a panic into CKR_GENERAL_ERROR
// (logged with its stack), maps the error with rvOf and logs the call and its CKR at
// debug level. args are extra log attributes: never a PIN. The call counts as in
// flight for C_Finalize (see finalizeDrain).
func call(name string, body func(m *session.Manager) error, args ...any) C.CK_RV {
	return run(name, true, body, args)
}

// callWaiting is call for C_WaitForSlotEvent, which C_Finalize does not wait for
// (it wakes it instead).
func callWaiting(name string, body func(m *session.Manager) error, args ...any) C.CK_RV {
	return run(name, false, body, args)
}

func run(name string, counted bool, body func(m *session.Manager) error, args []any) (rv C.CK_RV) {
	g := acquire(counted)
	log := discard
	if g != nil {
		log = g.log
		if counted {
			defer g.calls.Done()
		}
	}
	defer func() {
		if p := recover(); p != nil {
			log.Error(name, "panic", p, "stack", string(debug.Stack()))
			rv = C.CKR_GENERAL_ERROR
		}
	}()
	if g == nil {
		return C.CKR_CRYPTOKI_NOT_INITIALIZED
	}
	r := rvOf(body(g.mgr))
	if log.Enabled(context.Background(), slog.LevelDebug) {
		log.Debug(name, append(args, "rv", r)...)
	}
	return C.CK_RV(r)
}

// guarded runs f with the same panic protection as call, for the entries that do not
// need a Manager (C_Initialize, C_Finalize).
func guarded(name string, f func() ck.RV) (rv C.CK_RV) {
	defer func() {
		if p := recover(); p != nil {
			logger().Error(name, "panic", p, "stack", string(debug.Stack()))
			rv = C.CKR_GENERAL_ERROR
		}
	}()
	return C.CK_RV(f())
}
