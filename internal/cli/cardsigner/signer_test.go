package cardsigner

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"testing"

	"github.com/jpki-pkcs11/jpki-pkcs11/card"
	"github.com/jpki-pkcs11/jpki-pkcs11/vcard"
)

func TestDigestInfoLengths(t *testing.T) {
	for h, n := range map[crypto.Hash]int{crypto.SHA1: 35, crypto.SHA256: 51, crypto.SHA384: 67, crypto.SHA512: 83} {
		di, err := DigestInfo(h, make([]byte, h.Size()))
		if err != nil || len(di) != n {
			t.Errorf("%v: %d bytes, %v (want %d)", h, len(di), err, n)
		}
	}
	if _, err := DigestInfo(crypto.SHA256, make([]byte, 20)); err == nil {
		t.Error("wrong digest length accepted")
	}
}

func TestSignerOnVirtualCard(t *testing.T) {
	vc, err := vcard.NewInMemory(vcard.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := card.New(vcard.NewTransport(vc))
	der, err := c.ReadFile(card.EFAuthCert)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	s, err := New(c, card.AuthKey, cert.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256([]byte("data"))
	if _, err := s.Sign(rand.Reader, d[:], crypto.SHA256); err == nil {
		t.Fatal("signed without the PIN")
	}
	if err := c.Verify(card.AuthKey, []byte("1234")); err != nil {
		t.Fatal(err)
	}
	sig, err := s.Sign(rand.Reader, d[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if err := rsa.VerifyPKCS1v15(cert.PublicKey.(*rsa.PublicKey), crypto.SHA256, d[:], sig); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Sign(rand.Reader, d[:], &rsa.PSSOptions{Hash: crypto.SHA256}); err == nil {
		t.Fatal("PSS accepted")
	}
}
