package main

import (
	"log/slog"
	"os"

	"github.com/jpki-pkcs11/jpki-pkcs11/session"
)

// tokensEnv names the environment variable that selects the tokens shown:
// auth, sign or both (docs/ONE-PIN.md). It wins over the module parameter.
const tokensEnv = "JPKI_PKCS11_TOKENS"

// tokenChoice is the token selection for this C_Initialize: from tokensEnv, else
// from "tokens=..." in the module parameters NSS and p11-kit pass in
// CK_C_INITIALIZE_ARGS.pReserved (params, already bounded by the C side). A value
// that is not understood is logged and ignored (both tokens).
func tokenChoice(log *slog.Logger, params string) session.Tokens {
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
