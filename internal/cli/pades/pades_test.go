package pades

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
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

// testChain is an RSA-2048 signer and its chain (signer, CA).
func testChain(t *testing.T) (*rsa.PrivateKey, []*x509.Certificate) {
	t.Helper()
	caKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	return key, chainFor(t, caKey, key)
}

// chainFor is a one-hour certificate chain (signer, CA) for key, the CA's key
// caKey: a CA certificate and a document-signing certificate it issued.
func chainFor(t *testing.T, caKey, key crypto.Signer) []*x509.Certificate {
	t.Helper()
	now := time.Now()
	caT := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test CA"}, NotBefore: now.Add(-time.Hour),
		NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caT, caT, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	eeT := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "signer"}, NotBefore: now.Add(-time.Hour),
		NotAfter: now.Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment}
	eeDER, err := x509.CreateCertificate(rand.Reader, eeT, ca, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	ee, _ := x509.ParseCertificate(eeDER)
	return []*x509.Certificate{ee, ca}
}

// check verifies the last signature of a signed PDF with the chain's root, and
// returns it.
func check(t *testing.T, out []byte, from int, root *x509.Certificate) *pkcs7.PKCS7 {
	t.Helper()
	if !bytes.Contains(out[from:], subFilterPAdES) || bytes.Contains(out[from:], subFilterLib) {
		t.Fatal("SubFilter is not ETSI.CAdES.detached")
	}
	br, err := byteRange(out, from)
	if err != nil {
		t.Fatal(err)
	}
	all, err := hex.DecodeString(string(out[br[1]+1 : br[2]-1]))
	if err != nil {
		t.Fatal(err)
	}
	var rv asn1.RawValue
	if _, err := asn1.Unmarshal(all, &rv); err != nil {
		t.Fatal(err)
	}
	der := rv.FullBytes
	p7, err := pkcs7.Parse(der)
	if err != nil {
		t.Fatalf("CMS: %v", err)
	}
	p7.Content = append(append([]byte(nil), out[:br[1]]...), out[br[2]:]...)
	pool := x509.NewCertPool()
	pool.AddCert(root)
	if err := p7.VerifyWithChain(pool); err != nil {
		t.Fatalf("CMS does not verify: %v", err)
	}
	var ess asn1.RawValue
	if err := p7.UnmarshalSignedAttribute(oidSigningCertificateV2, &ess); err != nil {
		t.Errorf("signing-certificate-v2 attribute: %v", err)
	}
	return p7
}

func TestSignTwice(t *testing.T) {
	key, chain := testChain(t)
	doc := testpdf.Minimal("Hello")
	out, err := Sign(doc, key, chain, Info{Reason: "r", Location: "l", Time: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	check(t, out, len(doc), chain[1])
	out2, err := Sign(out, key, chain, Info{Time: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	check(t, out2, len(out), chain[1])
	if !bytes.HasPrefix(out2, out) {
		t.Fatal("the second signature rewrote the first")
	}
}

func TestNotAPDF(t *testing.T) {
	key, chain := testChain(t)
	if _, err := Sign([]byte("hello"), key, chain, Info{}); err == nil {
		t.Fatal("signed a non-PDF")
	}
	if _, err := Sign(testpdf.Minimal("Hello"), key, nil, Info{}); err == nil {
		t.Fatal("signed without a certificate")
	}
}
