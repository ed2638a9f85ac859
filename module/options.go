package main

import (
	"log/slog"
	"os"
	"strings"

	"github.com/jpki-pkcs11/jpki-pkcs11/session"
)

// tokensEnv names the environment variable that selects the tokens shown:
// auth, sign or both (docs/ONE-PIN.md). It wins over the module parameter.
const tokensEnv = "JPKI_PKCS11_TOKENS"

// authEntryParam is the module parameter word the authentication-only entry point
// (jpki-pkcs11-auth.so, module/authentry) puts first in C_Initialize's pReserved.
const authEntryParam = "jpki-entry=auth"

// tokenChoice is the token selection for this C_Initialize. Through the
// authentication-only entry point (authEntryParam in params): the authentication
// token, whatever else says (the file the program loaded is its explicit choice; a
// JPKI_PKCS11_TOKENS or tokens= asking otherwise is logged and ignored). Else:
// tokensEnv, else "tokens=..." in the module parameters NSS and p11-kit pass in
// CK_C_INITIALIZE_ARGS.pReserved (params, already bounded by the C side), else
// both. A value that is not understood is logged and ignored (both tokens).
func tokenChoice(log *slog.Logger, params string) session.Tokens {
	if authEntry(params) {
		if v, ok := os.LookupEnv(tokensEnv); ok {
			if t, err := session.ParseTokens(v); err != nil || t != session.AuthOnly {
				log.Warn("authentication-only entry point: ignoring "+tokensEnv, "value", v)
			}
		}
		if t, found, err := session.TokensFromParams(params); err != nil || (found && t != session.AuthOnly) {
			log.Warn("authentication-only entry point: ignoring the tokens module parameter", "params", params)
		}
		log.Info("authentication-only entry point", "tokens", session.AuthOnly)
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

// authEntry tells whether the module parameters carry authEntryParam (a word of
// its own, as TokensFromParams splits them).
func authEntry(params string) bool {
	for _, w := range strings.FieldsFunc(params, func(r rune) bool {
		return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == ';' || r == ','
	}) {
		if strings.EqualFold(w, authEntryParam) {
			return true
		}
	}
	return false
}
