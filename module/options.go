package main

/*
#include "shim.h"
*/
import "C"

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"unsafe"

	"github.com/jpki-pkcs11/jpki-pkcs11/session"
)

// tokensEnv names the environment variable that selects the tokens shown:
// auth, sign or both (docs/ONE-PIN.md). It wins over the module parameter.
const tokensEnv = "JPKI_PKCS11_TOKENS"

// AuthEntryPoint is the file name of the authentication-only entry point: a
// symbolic link to the module (jpki-pkcs11-auth.so beside jpki-pkcs11.so) that
// shows the authentication token alone, as a login-required token, for programs
// that need one (OpenSSL with pin-value, Java TLS client authentication,
// ssh-agent).
const AuthEntryPoint = "jpki-pkcs11-auth"

// tokenChoice is the token selection for this C_Initialize. Loaded as
// AuthEntryPoint, the module shows the authentication token whatever else says
// (a different JPKI_PKCS11_TOKENS or tokens= is logged and ignored: the file name
// is the program's explicit choice). Otherwise: tokensEnv, else "tokens=..." in
// the module parameters NSS and p11-kit pass in CK_C_INITIALIZE_ARGS.pReserved
// (params, already bounded by the C side), else both. A value that is not
// understood is logged and ignored (both tokens).
func tokenChoice(log *slog.Logger, params string) session.Tokens {
	if name := loadedName(); isAuthEntryPoint(name) {
		if v, ok := os.LookupEnv(tokensEnv); ok {
			if t, err := session.ParseTokens(v); err != nil || t != session.AuthOnly {
				log.Warn("loaded as the authentication-only entry point: ignoring "+tokensEnv, "file", name, "value", v)
			}
		}
		if t, found, err := session.TokensFromParams(params); err != nil || (found && t != session.AuthOnly) {
			log.Warn("loaded as the authentication-only entry point: ignoring the tokens module parameter", "file", name, "params", params)
		}
		log.Info("authentication-only entry point", "file", name, "tokens", session.AuthOnly)
		return session.AuthOnly
	}
	if v, ok := os.LookupEnv(tokensEnv); ok {
		t, err := session.ParseTokens(v)
		if err != nil {
			log.Warn("ignoring "+tokensEnv, "err", err)
			return session.BothTokens
		}
		return t
	}
	t, found, err := session.TokensFromParams(params)
	if err != nil {
		log.Warn("ignoring the tokens module parameter", "err", err)
		return session.BothTokens
	}
	if found {
		log.Info("module parameter", "tokens", t)
	}
	return t
}

// loadedName is the file name the library was loaded under ("" if unknown).
func loadedName() string {
	var buf [4096]C.char
	n := C.jpki_loaded_name(&buf[0], C.size_t(len(buf)))
	if n == 0 {
		return ""
	}
	return C.GoStringN((*C.char)(unsafe.Pointer(&buf[0])), C.int(n))
}

// isAuthEntryPoint tells whether path names the authentication-only entry point:
// its base name, without the .so/.dll suffix, is AuthEntryPoint.
func isAuthEntryPoint(path string) bool {
	base := filepath.Base(strings.ReplaceAll(path, `\`, "/"))
	for _, ext := range []string{".so", ".dll", ".DLL", ".dylib"} {
		if b, ok := strings.CutSuffix(base, ext); ok {
			return strings.EqualFold(b, AuthEntryPoint)
		}
	}
	return false
}
