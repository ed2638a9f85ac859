package cardsigner

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha512"
	"crypto/x509"
	"errors"
	"testing"

	"github.com/jpki-pkcs11/jpki-pkcs11/card"
	"github.com/jpki-pkcs11/jpki-pkcs11/card/nextgen"
	"github.com/jpki-pkcs11/jpki-pkcs11/vcard"
)

// TestECDSASignerOnVirtualNextCard: on the next generation the signer gives
// ASN.1 ECDSA signatures that verify with the certificate, only after the PIN;
// a certificate of the other generation's algorithm is not yet supported.
func TestECDSASignerOnVirtualNextCard(t *testing.T) {
	vc, err := vcard.NewInMemory(vcard.Options{Generation: vcard.GenerationNext})
	if err != nil {
		t.Fatal(err)
	}
	g, _, err := card.Open(vcard.NewTransport(vc), nextgen.Generation)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(vc.Status().SignCert)
	s, err := New(g, card.SignKey, cert.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	d := sha512.Sum384([]byte("data"))
	if _, err := s.Sign(rand.Reader, d[:], crypto.SHA384); !errors.Is(err, card.ErrNotLoggedIn) {
		t.Fatalf("signed without the PIN: %v", err)
	}
	if err := g.Verify(card.SignKey, []byte("ABC123")); err != nil {
		t.Fatal(err)
	}
	sig, err := s.Sign(rand.Reader, d[:], crypto.SHA384)
	if err != nil {
		t.Fatal(err)
	}
	if !ecdsa.VerifyASN1(cert.PublicKey.(*ecdsa.PublicKey), d[:], sig) {
		t.Fatal("the ASN.1 signature does not verify")
	}
	if _, err := s.Sign(rand.Reader, d[:32], crypto.SHA384); err == nil {
		t.Fatal("a digest of the wrong length was signed")
	}
	rsaCard, _ := vcard.NewInMemory(vcard.Options{})
	rsaCert, _ := x509.ParseCertificate(rsaCard.Status().AuthCert)
	if _, err := New(g, card.AuthKey, rsaCert.PublicKey); !errors.Is(err, card.ErrNotYetSupported) {
		t.Fatalf("an RSA certificate on the next generation: %v", err)
	}
	if _, err := New(card.New(vcard.NewTransport(rsaCard)), card.AuthKey, cert.PublicKey); !errors.Is(err, card.ErrNotYetSupported) {
		t.Fatalf("an ECDSA certificate on today's card: %v", err)
	}
}
