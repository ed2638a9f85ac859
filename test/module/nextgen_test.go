package module

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha512"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jpki-pkcs11/jpki-pkcs11/test/clients/clienttest"
)

// TestNextGeneration: pkcs11-tool on the virtual next-generation card
// (jpki-vcard new --generation next: ECDSA P-384 keys, SHA-384 certificates,
// the assumed commands). -L shows today's two tokens; -M lists CKM_ECDSA and
// ECDSA with SHA-256/384/512 on P-384 (on the always-authenticate
// authentication token the hash-and-sign ones without "sign": NSS hashes
// itself there, session/mech.go) and no RSA mechanism; -O shows EC keys with
// the P-384 curve and the certificate's point, the one-PIN layout unchanged;
// both keys sign with every ECDSA mechanism (DER through --signature-format
// openssl, and raw r||s of a SHA-384 hash) and openssl verifies each signature
// against the certificate pkcs11-tool exported; a wrong PIN costs one try.
func TestNextGeneration(t *testing.T) {
	c := fx.ServeCard(t, fx.CardDir(t, "next", "--generation", "next"), 0)
	env := clienttest.Env(t)
	r := slotsOf(t, clienttest.ParseSlots(tool(t, env, "-L")), 0)
	if r.auth < 0 || r.sign < 0 {
		t.Fatalf("tokens %+v", r)
	}
	t.Run("mechanisms", func(t *testing.T) {
		for _, slot := range []int{r.auth, r.sign} {
			out := tool(t, env, append(slotArg(slot), "-M")...)
			ec := "keySize={384,384}, hw, sign, verify, EC F_P, EC OID, EC uncompressed"
			clienttest.Contains(t, "pkcs11-tool -M", out, "  ECDSA, "+ec, "SHA384, digest")
			hashed := ec
			if slot == r.auth {
				hashed = strings.Replace(ec, "sign, ", "", 1)
			}
			for _, m := range []string{"ECDSA-SHA256", "ECDSA-SHA384", "ECDSA-SHA512"} {
				clienttest.Contains(t, "pkcs11-tool -M", out, "  "+m+", "+hashed+"\n")
			}
			if strings.Contains(out, "RSA") {
				t.Fatalf("an RSA mechanism on the next-generation card:\n%s", out)
			}
		}
	})
	t.Run("objects", func(t *testing.T) {
		params, _ := asn1.Marshal(asn1.ObjectIdentifier{1, 3, 132, 0, 34}) // secp384r1
		for _, k := range []struct {
			name, pin, pub, key, der string
			slot                     int
			always                   bool
		}{
			{"auth", "", "User Authentication Public Key", "User Authentication Key", "auth.der", r.auth, true},
			{"sign", clienttest.SignPIN, "Digital Signature Public Key", "Digital Signature Key", "sign.der", r.sign, false},
		} {
			args := append(slotArg(k.slot), "-O")
			if k.pin != "" {
				args = append(args, "--login", "--pin", k.pin)
			}
			out := tool(t, env, args...)
			objs := clienttest.ParseObjects(out)
			pub, ok := clienttest.Find(objs, "Public Key", k.pub)
			if !ok || !strings.Contains(pub.Raw, "EC  EC_POINT 384 bits") || !strings.Contains(pub.Raw, fmt.Sprintf("EC_PARAMS:  %x", params)) {
				t.Fatalf("%s public key: %+v", k.name, pub)
			}
			priv, ok := clienttest.Find(objs, "Private Key", k.key)
			if !ok || !strings.Contains(priv.Raw, "Private Key Object; EC") || strings.Contains(priv.Access, "always authenticate") != k.always ||
				!strings.Contains(priv.Raw, "Allowed mechanisms: ECDSA,ECDSA-SHA256,ECDSA-SHA384,ECDSA-SHA512") {
				t.Fatalf("%s private key: %+v", k.name, priv)
			}
			// CKA_EC_POINT is the DER OCTET STRING of the certificate's point
			point := certPoint(t, filepath.Join(c.Dir, k.der))
			if !strings.Contains(pub.Raw, fmt.Sprintf("EC_POINT:   04%02x%x", len(point), point)) {
				t.Fatalf("%s public key: CKA_EC_POINT is not the DER OCTET STRING of the certificate's point %x:\n%s", k.name, point, pub.Raw)
			}
		}
		if before := clienttest.ParseObjects(tool(t, env, append(slotArg(r.sign), "-O")...)); clienttest.Count(before, "Private Key") != 0 ||
			clienttest.Count(before, "Certificate") != 1 {
			t.Fatalf("signature token before login: %+v", before)
		}
	})
	t.Run("sign", func(t *testing.T) {
		for _, k := range []struct {
			name, pin, id, der string
			slot               int
		}{{"auth", clienttest.AuthPIN, "01", "auth.der", r.auth}, {"sign", clienttest.SignPIN, "02", "sign.der", r.sign}} {
			pub := exportCert(t, env, c, k.slot, k.pin, k.id, k.der)
			for _, m := range []string{"ECDSA-SHA256", "ECDSA-SHA384", "ECDSA-SHA512", "ECDSA"} {
				t.Run(k.name+"/"+m, func(t *testing.T) { ecdsaSignAndVerify(t, env, k.slot, k.pin, k.id, pub, m) })
			}
		}
	})
	t.Run("wrong PIN", func(t *testing.T) {
		mark := fx.PC.Mark()
		toolFails(t, env, "CKR_PIN_INCORRECT", append(slotArg(r.sign), "--login", "--pin", "WRONG1", "-O")...)
		if n := fx.APDUsSince(t, mark, `^00 20 00 82 06 `); n != 1 {
			t.Fatalf("%d VERIFY commands for one wrong password, want 1", n)
		}
		clienttest.Contains(t, "pkcs11-tool -L", tool(t, env, "-L"), "user PIN count low")
		tool(t, env, append(slotArg(r.sign), "--login", "--pin", clienttest.SignPIN, "-O")...)
		if strings.Contains(tool(t, env, "-L"), "count low") {
			t.Fatal("the counter is still low after a good password")
		}
	})
}

// ecdsaSignAndVerify signs random data with pkcs11-tool and mechanism mech (for
// CKM_ECDSA a SHA-384 hash of it, made here; the output is r||s, 96 bytes),
// and verifies the signature with openssl against the public key pub.
func ecdsaSignAndVerify(t *testing.T, env []string, slot int, pin, id, pub, mech string) {
	t.Helper()
	dir := t.TempDir()
	data := make([]byte, 3000)
	_, _ = rand.Read(data)
	in := clienttest.WriteFile(t, dir, "data", data, 0o600)
	sig := filepath.Join(dir, "sig")
	args := append(slotArg(slot), "--login", "--pin", pin, "--sign", "-m", mech, "--id", id, "-o", sig)
	if mech == "ECDSA" {
		sum := sha512.Sum384(data)
		tool(t, env, append(args, "-i", clienttest.WriteFile(t, dir, "hash", sum[:], 0o600))...)
		rs, err := os.ReadFile(sig)
		if err != nil || len(rs) != 96 {
			t.Fatalf("CKM_ECDSA gave %d bytes (want r||s, 96): %v", len(rs), err)
		}
		der, _ := asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(rs[:48]), new(big.Int).SetBytes(rs[48:])})
		sig = clienttest.WriteFile(t, dir, "sig.der", der, 0o600)
		out := clienttest.MustRun(t, nil, "openssl", "pkeyutl", "-verify", "-pubin", "-inkey", pub, "-in",
			filepath.Join(dir, "hash"), "-sigfile", sig)
		clienttest.Contains(t, "openssl pkeyutl -verify (ECDSA)", out, "Signature Verified Successfully")
		return
	}
	tool(t, env, append(args, "--signature-format", "openssl", "-i", in)...)
	hash := strings.ToLower(strings.TrimPrefix(mech, "ECDSA-"))
	out := clienttest.MustRun(t, nil, "openssl", "dgst", "-"+hash, "-verify", pub, "-signature", sig, in)
	clienttest.Contains(t, "openssl dgst -verify ("+mech+")", out, "Verified OK")
}

// certPoint is the uncompressed point of the EC key of the DER certificate file.
func certPoint(t *testing.T, der string) []byte {
	t.Helper()
	b, err := os.ReadFile(der)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(b)
	if err != nil {
		t.Fatal(err)
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		t.Fatalf("%s holds a %T key", der, cert.PublicKey)
	}
	k, err := pub.ECDH()
	if err != nil {
		t.Fatal(err)
	}
	return k.Bytes()
}
