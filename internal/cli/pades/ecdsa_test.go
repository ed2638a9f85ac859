package pades

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"math/big"
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
	now := time.Now()
	caT := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "EC CA"}, NotBefore: now.Add(-time.Hour),
		NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, _ := x509.CreateCertificate(rand.Reader, caT, caT, &caKey.PublicKey, caKey)
	ca, _ := x509.ParseCertificate(caDER)
	eeT := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "signer"}, NotBefore: now.Add(-time.Hour),
		NotAfter: now.Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment}
	eeDER, _ := x509.CreateCertificate(rand.Reader, eeT, ca, &key.PublicKey, caKey)
	ee, _ := x509.ParseCertificate(eeDER)
	doc := testpdf.Minimal("Hello")
	out, err := Sign(doc, key, []*x509.Certificate{ee, ca}, Info{Time: now})
	if err != nil {
		t.Fatal(err)
	}
	check(t, out, len(doc), ca)
	br, _ := byteRange(out, len(doc))
	all, _ := hex.DecodeString(string(out[br[1]+1 : br[2]-1]))
	var rv asn1.RawValue
	asn1.Unmarshal(all, &rv)
	p7, err := pkcs7.Parse(rv.FullBytes)
	if err != nil {
		t.Fatal(err)
	}
	si := p7.Signers[0]
	if !si.DigestAlgorithm.Algorithm.Equal(pkcs7.OIDDigestAlgorithmSHA384) ||
		!si.DigestEncryptionAlgorithm.Algorithm.Equal(pkcs7.OIDDigestAlgorithmECDSASHA384) {
		t.Fatalf("digest %v, signature %v", si.DigestAlgorithm.Algorithm, si.DigestEncryptionAlgorithm.Algorithm)
	}
}
