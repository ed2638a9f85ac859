package nss

import (
	"testing"

	"github.com/jpki-pkcs11/jpki-pkcs11/test/clients/clienttest"
)

// TestTokensOption: the user's way to show one token only (docs/ONE-PIN.md): the
// NSS module parameter `modutil -add ... -string "tokens=auth"` (passed by NSS in
// CK_C_INITIALIZE_ARGS.pReserved) and the environment JPKI_PKCS11_TOKENS, which
// wins over the parameter. Alone, the authentication token requires a login.
func TestTokensOption(t *testing.T) {
	fx.SharedCard(t)
	env := clienttest.Env(t)
	db := fx.NSSDB(t, env, "-string", "tokens=auth")
	out, _ := clienttest.Run(t, env, "modutil", "-dbdir", db, "-list", "JPKI", "-force")
	// shown alone, the authentication token has the usual login-required layout
	clienttest.Contains(t, "modutil -list (tokens=auth)", out, "Token Name: "+clienttest.AuthToken, "Login Type: Login required")
	lacks(t, "modutil -list (tokens=auth)", out, "Token Name: "+clienttest.SignToken)
	out = clienttest.MustRun(t, env, "certutil", "-L", "-d", db, "-h", "all")
	clienttest.Contains(t, "certutil -L (tokens=auth)", out, authNick)
	lacks(t, "certutil -L (tokens=auth)", out, signCANick)

	// the environment wins over the parameter
	env2 := append(env, "JPKI_PKCS11_TOKENS=sign")
	out = clienttest.MustRun(t, env2, "certutil", "-L", "-d", db, "-h", "all")
	clienttest.Contains(t, "certutil -L (JPKI_PKCS11_TOKENS=sign)", out, signCANick)
	lacks(t, "certutil -L (JPKI_PKCS11_TOKENS=sign)", out, authNick)

	// a database without the parameter shows both
	out = clienttest.MustRun(t, env, "certutil", "-L", "-d", fx.NSSDB(t, env), "-h", "all")
	clienttest.Contains(t, "certutil -L (no parameter)", out, authNick, signCANick)
}
