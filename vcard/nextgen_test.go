package vcard

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha512"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jpki-pkcs11/jpki-pkcs11/card"
	"github.com/jpki-pkcs11/jpki-pkcs11/card/nextgen"
)

var selNext = "00A4040C08" + hex.EncodeToString(nextgen.AID)

func fid(f uint16) string { return hex.EncodeToString([]byte{byte(f >> 8), byte(f)}) }

// TestNextCertificates: the next generation's certificates are shaped like the
// announced profile: P-384 holder and CA keys, ecdsa-with-SHA384, holder
// certificates valid 10 years, today's names and holder attributes.
func TestNextCertificates(t *testing.T) {
	issued := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	c := memCard(t, Options{Generation: GenerationNext, Issued: issued, Name: "JPKI HANAKO"})
	st := c.Status()
	certs := map[string][]byte{"auth": st.AuthCert, "sign": st.SignCert, "auth CA": st.AuthCA, "sign CA": st.SignCA}
	parsed := map[string]*x509.Certificate{}
	for name, der := range certs {
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
		if !ok || pub.Curve != elliptic.P384() || cert.SignatureAlgorithm != x509.ECDSAWithSHA384 {
			t.Fatalf("%s: key %T, signature %v", name, cert.PublicKey, cert.SignatureAlgorithm)
		}
		parsed[name] = cert
	}
	for _, name := range []string{"auth", "sign"} {
		cert := parsed[name]
		if !cert.NotBefore.Equal(issued) || !cert.NotAfter.Equal(time.Date(2036, 3, 31, 14, 59, 59, 0, time.UTC)) {
			t.Fatalf("%s valid %v .. %v, want 10 years from %v", name, cert.NotBefore, cert.NotAfter, issued)
		}
		if err := cert.CheckSignatureFrom(parsed[name+" CA"]); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if !strings.Contains(parsed["auth CA"].Subject.String(), "OU=JPKI for user authentication") {
		t.Fatalf("auth CA %s", parsed["auth CA"].Subject)
	}
	san, err := SubjectAltNames(parsed["sign"])
	if err != nil || san[card.OIDHolderName.String()] != "JPKI HANAKO" {
		t.Fatalf("holder attributes %v %v", san, err)
	}
	if u := memCard(t, Options{Generation: GenerationNext, Under15: true}).Status(); u.SignCert != nil || u.SignCA != nil {
		t.Fatal("an under-15 next-generation card has a signature certificate")
	}
}

// TestNextCommands: the assumed command set, answered as card/nextgen expects:
// no JPKI AP, the files, the PIN references, MSE:SET and PSO: COMPUTE DIGITAL
// SIGNATURE, each refused when out of order.
func TestNextCommands(t *testing.T) {
	c := memCard(t, Options{Generation: GenerationNext, AuthPIN: "1234", SignPIN: "ABC123"})
	if string(c.ATR()) != string(ATRNext) {
		t.Fatalf("ATR %X", c.ATR())
	}
	tck := byte(0)
	for _, b := range ATRNext[1:] {
		tck ^= b
	}
	if tck != 0 {
		t.Fatalf("ATR %X: check byte wrong", ATRNext)
	}
	verify := func(ref byte, pin string) string {
		return "002000" + hex.EncodeToString([]byte{ref}) + ascii(pin)
	}
	sum := sha512.Sum384([]byte("data"))
	pso := "002A9E9A30" + hex.EncodeToString(sum[:]) + "00"
	r := run(t, c, []step{
		{selAP, 0x6A82, 0},           // the JPKI AP does not exist on it
		{"002000" + "81", 0x6986, 0}, // nothing selected
		{selNext, 0x9000, 0},         // the authentication AP
		{"00A4020C02" + fid(nextgen.EFTokenInfo), 0x9000, 0},
		{"00B0000020", 0x9000, 32},
		{"00B0860000", 0x6A86, 0}, // no short-EF addressing
		{"00A4020C02" + fid(nextgen.EFSignCert), 0x9000, 0},
		{"00B0000004", 0x6982, 0}, // the signature certificate needs the PIN
		{"00200081", 0x63C3, 0},   // tries left
		{"00200082", 0x63C5, 0},
		{"00200083", 0x6A88, 0}, // no such PIN
		{pso, 0x6985, 0},        // no key set
		{"002241B6038401" + "02", 0x9000, 0},
		{pso, 0x6982, 0}, // the signature PIN is not verified
		{verify(nextgen.PINRefSign, "ABC123"), 0x9000, 0},
		{"00B0000004", 0x9000, 4},
		{pso, 0x9000, 96},
		{"002241B6038401" + "07", 0x6A88, 0}, // no such key
		{pso, 0x6985, 0},
		{verify(nextgen.PINRefAuth, "0000"), 0x63C2, 0},
		{"00240181" + ascii("5678"), 0x6982, 0}, // not verified
		{verify(nextgen.PINRefAuth, "1234"), 0x9000, 0},
		{"00240181" + ascii("56a8"), 0x6A80, 0},
		{"00240181" + ascii("5678"), 0x9000, 0},
		{"002241B6038401" + "01", 0x9000, 0},
		{"002A9E9A41" + strings.Repeat("00", 65) + "00", 0x6700, 0}, // a hash of at most 64 bytes
		{selNext, 0x9000, 0},                                        // a select drops the PINs and the key
		{pso, 0x6985, 0},
		{verify(nextgen.PINRefAuth, "5678"), 0x9000, 0},
	})
	cert, _ := x509.ParseCertificate(c.Status().SignCert)
	sig := r[16]
	if !ecdsa.Verify(cert.PublicKey.(*ecdsa.PublicKey), sum[:], new(big.Int).SetBytes(sig[:48]), new(big.Int).SetBytes(sig[48:])) {
		t.Fatal("the signature does not verify with the signature certificate")
	}
	if s := c.Status(); s.AuthTries != 3 || s.SignTries != 5 {
		t.Fatalf("tries %d/%d", s.AuthTries, s.SignTries)
	}
}

// TestNextCreateOpen: a next-generation card persists its generation, EC keys
// and PIN state, and comes back the same from its directory.
func TestNextCreateOpen(t *testing.T) {
	dir := t.TempDir()
	if err := Create(dir, Options{Generation: GenerationNext, AuthPIN: "4321"}); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, FileState))
	if !strings.Contains(string(raw), `"Generation": "next"`) {
		t.Fatalf("state.json: %s", raw)
	}
	c, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if c.Status().Options.Generation != GenerationNext || string(c.ATR()) != string(ATRNext) {
		t.Fatalf("reopened as %q", c.Status().Options.Generation)
	}
	run(t, c, []step{{selNext, 0x9000, 0}, {"00200081" + ascii("4321"), 0x9000, 0},
		{"002241B6038401" + "01", 0x9000, 0}, {"002A9E9A0401020304", 0x9000, 96}})
	// today's cards keep their state.json as it was (no generation written)
	old := t.TempDir()
	if err := Create(old, Options{}); err != nil {
		t.Fatal(err)
	}
	if raw, _ := os.ReadFile(filepath.Join(old, FileState)); strings.Contains(string(raw), "Generation") {
		t.Fatalf("today's card writes a generation: %s", raw)
	}
}

func TestNextOptions(t *testing.T) {
	for _, o := range []Options{{Generation: GenerationNext, Juki: true}, {Generation: GenerationNext, NoPSS: true}, {Generation: "2"}} {
		if _, err := NewInMemory(o); !errors.Is(err, ErrOptions) {
			t.Errorf("%+v: %v, want ErrOptions", o, err)
		}
	}
	c := memCard(t, Options{Generation: GenerationCurrent})
	if c.Status().Options.Generation != "" || c.next() {
		t.Fatal("generation current is today's card")
	}
}

// TestNextSignaturesFullLength: r and s of every signature are 384 bits (so every
// DER encoding of them has one length, which poppler 22.12's pdfsig needs) and
// the signatures verify.
func TestNextSignaturesFullLength(t *testing.T) {
	c := memCard(t, Options{Generation: GenerationNext})
	sum := sha512.Sum384([]byte("data"))
	for range 50 {
		r, s, err := fullLength(c.ecAuth, sum[:])
		if err != nil || r.BitLen() != 384 || s.BitLen() != 384 || !ecdsa.Verify(&c.ecAuth.PublicKey, sum[:], r, s) {
			t.Fatalf("r %d bits, s %d bits, %v", r.BitLen(), s.BitLen(), err)
		}
	}
}
