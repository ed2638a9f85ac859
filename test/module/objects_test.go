package module

import (
	"os"
	"strings"
	"testing"

	"github.com/jpki-pkcs11/jpki-pkcs11/test/clients/clienttest"
)

// readDebugLog returns the module debug log named in env.
func readDebugLog(t *testing.T, env []string) string {
	t.Helper()
	b, err := os.ReadFile(clienttest.DebugLog(env))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestObjectsBeforeAndAfterLogin: -O on both tokens before and after login. The
// authentication token shows its certificate, public key, CA certificate and the
// public-certificates profile without login; its private key either appears only
// after login, or (the one-PIN layout, docs/ONE-PIN.md) is public and
// CKA_ALWAYS_AUTHENTICATE. The signature token shows only its CA certificate (and
// possibly a profile) before login, and the holder's certificate, public key and
// private key after.
func TestObjectsBeforeAndAfterLogin(t *testing.T) {
	fx.ServeCard(t, fx.CardDir(t, "normal"), 0)
	env := clienttest.Env(t)
	r := slotsOf(t, clienttest.ParseSlots(tool(t, env, "-L")), 0)
	type counts struct{ cert, pub, priv int }
	count := func(objs []clienttest.Object) counts {
		return counts{clienttest.Count(objs, "Certificate"), clienttest.Count(objs, "Public Key"), clienttest.Count(objs, "Private Key")}
	}
	for _, c := range []struct {
		name          string
		slot          int
		pin           string
		before, after counts
		profile       bool // a CKO_PROFILE object is required (it may be there anyway)
		key, cert, id string
	}{
		{"auth", r.auth, clienttest.AuthPIN, counts{2, 1, 0}, counts{2, 1, 1}, true, "User Authentication Key", "User Authentication Certificate", "01"},
		{"sign", r.sign, clienttest.SignPIN, counts{1, 0, 0}, counts{2, 1, 1}, false, "Digital Signature Key", "Digital Signature Certificate", "02"},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := clienttest.ParseObjects(tool(t, env, append(slotArg(c.slot), "-O")...))
			want := c.before
			if k, ok := clienttest.Find(before, "Private Key", c.key); ok && c.name == "auth" && strings.Contains(k.Access, "always authenticate") {
				want.priv = 1 // one-PIN layout: a public, always-authenticate key
			}
			if got := count(before); got != want {
				t.Fatalf("-O before login: %+v, want %+v: %+v", got, want, before)
			}
			if c.profile && clienttest.Count(before, "Profile") != 1 {
				t.Fatalf("-O before login: no CKO_PROFILE object: %+v", before)
			}
			after := clienttest.ParseObjects(tool(t, env, append(slotArg(c.slot), "--login", "--pin", c.pin, "-O")...))
			if got := count(after); got != c.after {
				t.Fatalf("-O after login: %+v, want %+v: %+v", got, c.after, after)
			}
			key, ok := clienttest.Find(after, "Private Key", c.key)
			if !ok || key.ID != c.id || key.Usage != "sign" ||
				!strings.Contains(key.Access, "sensitive") || !strings.Contains(key.Access, "never extractable") {
				t.Fatalf("private key %+v (found %v), want %q id %s, sign only, sensitive, never extractable", key, ok, c.key, c.id)
			}
			cert, ok := clienttest.Find(after, "Certificate", c.cert)
			if !ok || cert.ID != c.id {
				t.Fatalf("certificate %+v (found %v), want %q with id %s", cert, ok, c.cert, c.id)
			}
			if _, ok := clienttest.Find(after, "Certificate", "CA Certificate"); !ok {
				t.Fatalf("no CA certificate: %+v", after)
			}
		})
	}
}

// TestMechanisms: -M lists the RSA PKCS#1 v1.5 signature mechanisms with 2048-bit
// keys and sign+verify, and the SHA digests.
func TestMechanisms(t *testing.T) {
	fx.ServeCard(t, fx.CardDir(t, "normal"), 0)
	env := clienttest.Env(t)
	r := slotsOf(t, clienttest.ParseSlots(tool(t, env, "-L")), 0)
	for _, slot := range []int{r.auth, r.sign} {
		out := tool(t, env, append(slotArg(slot), "-M")...)
		for _, m := range []string{"RSA-PKCS", "SHA1-RSA-PKCS", "SHA224-RSA-PKCS", "SHA256-RSA-PKCS", "SHA384-RSA-PKCS", "SHA512-RSA-PKCS"} {
			clienttest.Contains(t, "-M", out, "\n  "+m+", keySize={2048,2048}, hw, sign, verify\n")
		}
		for _, d := range []string{"SHA-1", "SHA224", "SHA256", "SHA384", "SHA512"} {
			clienttest.Contains(t, "-M", out, "\n  "+d+", digest\n")
		}
	}
}
