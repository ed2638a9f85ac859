package module

import (
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jpki-pkcs11/jpki-pkcs11/test/clients/clienttest"
)

// sha256DigestInfo is the DER DigestInfo prefix of SHA-256 (RFC 8017 9.2 note 1).
var sha256DigestInfo, _ = hex.DecodeString("3031300d060960864801650304020105000420")

// signAndVerify signs random data with pkcs11-tool --sign -m mech and the key id of
// the slot, and verifies the signature with openssl against the certificate exported
// from the same token. RSA-PKCS signs a SHA-256 DigestInfo made here; the PSS
// mechanisms are verified with PSS padding and a salt of the hash length.
func signAndVerify(t *testing.T, env []string, c *clienttest.Card, slot int, pin, id, der, mech string) {
	t.Helper()
	dir := t.TempDir()
	pub := exportCert(t, env, c, slot, pin, id, der)
	data := make([]byte, 2000)
	_, _ = rand.Read(data)
	dataFile := clienttest.WriteFile(t, dir, "data", data, 0o600)
	in, hash := dataFile, strings.ToLower(strings.SplitN(mech, "-", 2)[0])
	if mech == "RSA-PKCS" {
		h := sha256.Sum256(data)
		in = clienttest.WriteFile(t, dir, "digestinfo", append(append([]byte{}, sha256DigestInfo...), h[:]...), 0o600)
		hash = "sha256"
	}
	sig := filepath.Join(dir, "sig")
	tool(t, env, append(slotArg(slot), "--login", "--pin", pin, "--sign", "-m", mech, "--id", id, "-i", in, "-o", sig)...)
	args := []string{"dgst", "-" + hash, "-verify", pub, "-signature", sig}
	if strings.HasSuffix(mech, "-PSS") {
		args = append(args, "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:-1")
	}
	out := clienttest.MustRun(t, nil, "openssl", append(args, dataFile)...)
	clienttest.Contains(t, "openssl dgst -verify ("+mech+")", out, "Verified OK")
}

// TestSignEachMechanism: --sign with every signature mechanism on both tokens; each
// signature verifies with openssl against the exported certificate.
func TestSignEachMechanism(t *testing.T) {
	c := fx.ServeCard(t, fx.CardDir(t, "normal"), 0)
	env := clienttest.Env(t)
	r := slotsOf(t, clienttest.ParseSlots(tool(t, env, "-L")), 0)
	mechs := []string{"RSA-PKCS", "SHA1-RSA-PKCS", "SHA224-RSA-PKCS", "SHA256-RSA-PKCS", "SHA384-RSA-PKCS", "SHA512-RSA-PKCS"}
	for _, k := range []struct {
		name, pin, id, der string
		slot               int
	}{{"auth", clienttest.AuthPIN, "01", "auth.der", r.auth}, {"sign", clienttest.SignPIN, "02", "sign.der", r.sign}} {
		for _, m := range mechs {
			t.Run(k.name+"/"+m, func(t *testing.T) { signAndVerify(t, env, c, k.slot, k.pin, k.id, k.der, m) })
		}
	}
	// RSA-PSS with SHA-256 where -M offers it (issue "TLS 1.3 and RSA-PSS").
	if strings.Contains(tool(t, env, append(slotArg(r.auth), "-M")...), "SHA256-RSA-PKCS-PSS,") {
		t.Run("auth/SHA256-RSA-PKCS-PSS", func(t *testing.T) {
			signAndVerify(t, env, c, r.auth, clienttest.AuthPIN, "01", "auth.der", "SHA256-RSA-PKCS-PSS")
		})
	}
}

// TestDigest: --hash with each SHA mechanism (C_Digest) gives the digest Go computes.
func TestDigest(t *testing.T) {
	fx.ServeCard(t, fx.CardDir(t, "normal"), 0)
	env := clienttest.Env(t)
	r := slotsOf(t, clienttest.ParseSlots(tool(t, env, "-L")), 0)
	dir := t.TempDir()
	data := make([]byte, 5000)
	_, _ = rand.Read(data)
	in := clienttest.WriteFile(t, dir, "data", data, 0o600)
	s1, s224, s256, s384, s512 := sha1.Sum(data), sha256.Sum224(data), sha256.Sum256(data), sha512.Sum384(data), sha512.Sum512(data)
	for m, want := range map[string][]byte{"SHA-1": s1[:], "SHA224": s224[:], "SHA256": s256[:], "SHA384": s384[:], "SHA512": s512[:]} {
		out := filepath.Join(dir, m)
		tool(t, env, append(slotArg(r.auth), "--hash", "-m", m, "-i", in, "-o", out)...)
		got, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if hex.EncodeToString(got) != hex.EncodeToString(want) {
			t.Fatalf("--hash -m %s: %x, want %x", m, got, want)
		}
	}
}
