package nss

import (
	"testing"

	"github.com/jpki-pkcs11/jpki-pkcs11/test/clients/clienttest"
)

// TestCertutil: modutil adds the module to a fresh NSS database; certutil -L lists
// the authentication certificate (as a user certificate: NSS found its key) and both
// CA certificates without any login, and the signature certificate never appears
// before the signature password: its EF is not even read. The signature token is
// "friendly" to NSS (CKO_PROFILE CKP_PUBLIC_CERTIFICATES_TOKEN), so certutil -L never
// logs in to it (certutil.c listCerts authenticates only unfriendly tokens); the
// NSS programs that do log in show the signature key and certificate only with the
// password: certutil -K and pdfsig -list-nicks.
func TestCertutil(t *testing.T) {
	fx.SharedCard(t)
	env := clienttest.Env(t)
	mark := fx.PC.Mark()
	db := fx.NSSDB(t, env)

	// what NSS reads from the token flags: only the signature token needs a login
	out, _ := clienttest.Run(t, env, "modutil", "-dbdir", db, "-list", "JPKI", "-force")
	clienttest.Contains(t, "modutil -list", out, "Token Name: "+clienttest.AuthToken,
		"Login Type: Public (no login required)", "Token Name: "+clienttest.SignToken, "Login Type: Login required")

	out = clienttest.MustRun(t, env, "certutil", "-L", "-d", db, "-h", "all")
	clienttest.Contains(t, "certutil -L -h all", out, authNick, authCANick, signCANick)
	lacks(t, "certutil -L -h all", out, signNick)
	// "u": NSS knows the private key of the authentication certificate without a login
	for _, line := range lines(out) {
		if len(line) > len(authNick) && line[:len(authNick)+1] == authNick+" " && !containsField(line, "u,u,u") {
			t.Fatalf("authentication certificate is not a user certificate: %q", line)
		}
	}
	// a password file changes nothing for -L: NSS lists public certificates only
	pw := writePassword(t, clienttest.SignPIN)
	out = clienttest.MustRun(t, env, "certutil", "-L", "-d", db, "-h", "all", "-f", pw)
	lacks(t, "certutil -L -h all -f", out, signNick)
	if n := fx.APDUsSince(t, mark, efSignCert); n != 0 {
		t.Fatalf("EF 0001 accessed %d times without the signature password", n)
	}

	// certutil -K logs in: without a password it cannot, with it the key shows
	out, err := clienttest.Run(t, env, "certutil", "-K", "-d", db, "-h", clienttest.SignToken)
	if err == nil {
		t.Fatalf("certutil -K on the signature token without a password succeeded:\n%s", out)
	}
	clienttest.Contains(t, "certutil -K (no password)", out, "could not authenticate")
	out = clienttest.MustRun(t, env, "certutil", "-K", "-d", db, "-h", clienttest.SignToken, "-f", pw)
	clienttest.Contains(t, "certutil -K -f", out, "Digital Signature Key")
	// the authentication token needs no login for its key
	out = clienttest.MustRun(t, env, "certutil", "-K", "-d", db, "-h", clienttest.AuthToken)
	clienttest.Contains(t, "certutil -K (authentication)", out, "User Authentication Key")

	// pdfsig -list-nicks: the signing certificates NSS finds after a login
	mark = fx.PC.Mark()
	out, err = clienttest.Run(t, env, "pdfsig", "-nssdir", db, "-list-nicks")
	if err == nil {
		t.Fatalf("pdfsig -list-nicks without a password succeeded:\n%s", out)
	}
	lacks(t, "pdfsig -list-nicks (no password)", out, signNick)
	if n := fx.APDUsSince(t, mark, efSignCert); n != 0 {
		t.Fatalf("EF 0001 accessed %d times without the signature password", n)
	}
	out = clienttest.MustRun(t, env, "pdfsig", "-nssdir", db, "-list-nicks", "-nss-pwd", clienttest.SignPIN)
	clienttest.Contains(t, "pdfsig -list-nicks -nss-pwd", out, authNick, signNick)
	if n := fx.APDUsSince(t, mark, efSignCert); n == 0 {
		t.Fatal("the signature certificate was listed without being read after the password")
	}
}

func lines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

func containsField(line, f string) bool {
	for i := 0; i+len(f) <= len(line); i++ {
		if line[i:i+len(f)] == f {
			return true
		}
	}
	return false
}
