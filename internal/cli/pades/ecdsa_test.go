package pades

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"
	"time"

	"github.com/digitorus/pkcs7"

	"github.com/jpki-pkcs11/jpki-pkcs11/test/testpdf"
)

// TestSignECDSA: an ECDSA P-384 signer (the next card generation) gives a PAdES
// signature with SHA-384 and ecdsa-with-SHA384 that verifies and fits the room.
func TestSignECDSA(t *testing.T) {
	caKey, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	key, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	chain := chainFor(t, caKey, key)
	doc := testpdf.Minimal("Hello")
	out, err := Sign(doc, key, chain, Info{Time: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	p7 := check(t, out, len(doc), chain[1])
	si := p7.Signers[0]
	if !si.DigestAlgorithm.Algorithm.Equal(pkcs7.OIDDigestAlgorithmSHA384) ||
		!si.DigestEncryptionAlgorithm.Algorithm.Equal(pkcs7.OIDDigestAlgorithmECDSASHA384) {
		t.Fatalf("digest %v, signature %v", si.DigestAlgorithm.Algorithm, si.DigestEncryptionAlgorithm.Algorithm)
	}
}
