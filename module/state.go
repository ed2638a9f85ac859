package main

/*
#include "shim.h"
*/
import "C"

import (
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/jpki-pkcs11/jpki-pkcs11/ck"
	"github.com/jpki-pkcs11/jpki-pkcs11/session"
)

// debugEnv names the environment variable that, when set at C_Initialize, names a
// file the module appends a debug log to (closed at C_Finalize). PINs are never
// logged.
const debugEnv = "JPKI_PKCS11_DEBUG"

// finalizeDrain bounds how long C_Finalize waits for calls in flight on other
// threads before it closes the Manager under them. The specification leaves such
// calls undefined, but hosts make them (NSS finalises from atexit); letting them
// finish first keeps the PC/SC context from being released under a running call.
// C_WaitForSlotEvent is not waited for: Close wakes it.
const finalizeDrain = time.Second

// generation is one C_Initialize .. C_Finalize lifetime.
type generation struct {
	mgr     *session.Manager
	log     *slog.Logger
	logFile *os.File
	calls   sync.WaitGroup // calls in flight, except C_WaitForSlotEvent
}

// state is the module's only mutable global state: the current generation (nil
// when the library is not initialised), behind one mutex. The C shim mirrors
// "initialised" (and by which process) through jpki_set_initialized, always under
// this mutex.
var state struct {
	mu  sync.Mutex
	cur *generation
}

// discard is the logger used when no debug log is configured.
var discard = slog.New(slog.DiscardHandler)

// acquire returns the current generation (nil when not initialised). With counted,
// the caller is registered as a call in flight and must call g.calls.Done().
func acquire(counted bool) *generation {
	state.mu.Lock()
	defer state.mu.Unlock()
	g := state.cur
	if g != nil && counted {
		g.calls.Add(1)
	}
	return g
}

// logger returns the current debug logger (the discard logger when none).
func logger() *slog.Logger {
	if g := acquire(false); g != nil {
		return g.log
	}
	return discard
}

// initialize creates the Manager: C_Initialize after the C side checked its
// arguments. It opens the debug log if one is configured; it makes no PC/SC call.
// params is the module parameter string from pInitArgs->pReserved ("" if none).
func initialize(params string) ck.RV {
	state.mu.Lock()
	defer state.mu.Unlock()
	if state.cur != nil {
		return ck.CKR_CRYPTOKI_ALREADY_INITIALIZED
	}
	log, f := openLog()
	m, err := session.New(session.Config{Log: log, Tokens: tokenChoice(log, params)})
	if err != nil {
		log.Error("C_Initialize", "err", err)
		if f != nil {
			f.Close()
		}
		return rvOf(err)
	}
	state.cur = &generation{mgr: m, log: log, logFile: f}
	C.jpki_set_initialized(1)
	log.Debug("C_Initialize", "rv", ck.CKR_OK)
	return ck.CKR_OK
}

// finalize ends the generation: new calls see CKR_CRYPTOKI_NOT_INITIALIZED at
// once, calls in flight get up to finalizeDrain to finish, then the Manager is
// closed (waking a blocked C_WaitForSlotEvent) and the log file too.
func finalize() ck.RV {
	state.mu.Lock()
	g := state.cur
	if g == nil {
		state.mu.Unlock()
		return ck.CKR_CRYPTOKI_NOT_INITIALIZED
	}
	state.cur = nil
	C.jpki_set_initialized(0)
	state.mu.Unlock()

	drained := make(chan struct{})
	go func() {
		g.calls.Wait()
		close(drained)
	}()
	timer := time.NewTimer(finalizeDrain)
	select {
	case <-drained:
	case <-timer.C:
		g.log.Warn("C_Finalize: calls still running on other threads; closing under them", "waited", finalizeDrain)
	}
	timer.Stop()
	g.mgr.Close()
	g.log.Debug("C_Finalize", "rv", ck.CKR_OK)
	if g.logFile != nil {
		g.logFile.Close()
	}
	return ck.CKR_OK
}

// openLog opens the debug log named by debugEnv, or returns the discard logger. A
// log that cannot be opened is not an error: the module works without it.
func openLog() (*slog.Logger, *os.File) {
	path := os.Getenv(debugEnv)
	if path == "" {
		return discard, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return discard, nil
	}
	h := slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug})
	return slog.New(h).With("pid", os.Getpid()), f
}
