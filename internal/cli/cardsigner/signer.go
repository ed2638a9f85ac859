// Package cardsigner offers a card key as a crypto.Signer: the host hashes and
// the card signs. An RSA key (today's cards) signs a PKCS#1 DigestInfo the host
// builds (signature scheme 00); an ECDSA key (the next generation) signs the
// hash, and the r||s the card answers is returned as the ASN.1 signature
// crypto.Signer promises. Every signature is checked with the certificate's key
// before it is returned.
package cardsigner

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"

	"github.com/jpki-pkcs11/jpki-pkcs11/card"
)

// DigestInfo prefixes (RFC 8017 §9.2 note 1) for the hashes the card accepts.
var prefixes = map[crypto.Hash][]byte{
	crypto.SHA1:   {0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14},
	crypto.SHA256: {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20},
	crypto.SHA384: {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30},
	crypto.SHA512: {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40},
}

// Signer signs with one key of a card whose PIN the caller has verified.
type Signer struct {
	Card card.Generation
	Key  card.Key
	Pub  crypto.PublicKey // from the key's certificate: *rsa.PublicKey or *ecdsa.PublicKey
}

// New returns a Signer for key k of c; pub is the public key of k's certificate,
// which must be of the card generation's algorithm (card.ErrNotYetSupported
// otherwise: a certificate this generation's commands cannot sign for).
func New(c card.Generation, k card.Key, pub crypto.PublicKey) (*Signer, error) {
	switch p := pub.(type) {
	case *rsa.PublicKey:
		if c.Algorithm() == card.RSA2048 {
			return &Signer{Card: c, Key: k, Pub: p}, nil
		}
	case *ecdsa.PublicKey:
		if c.Algorithm() == card.ECDSAP384 && p.Curve == elliptic.P384() {
			return &Signer{Card: c, Key: k, Pub: p}, nil
		}
	}
	return nil, fmt.Errorf("the %v certificate has a %s key but the card answers as a %v card: %w", k, keyName(pub), c.Algorithm(), card.ErrNotYetSupported)
}

func keyName(pub crypto.PublicKey) string {
	switch p := pub.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA-%d", p.N.BitLen())
	case *ecdsa.PublicKey:
		return "ECDSA " + p.Curve.Params().Name
	}
	return fmt.Sprintf("%T", pub)
}

// Public returns the key's public half.
func (s *Signer) Public() crypto.PublicKey { return s.Pub }

// Sign signs digest (already hashed with opts.HashFunc()): PKCS#1 v1.5 with an
// RSA key (RSASSA-PSS is refused), ECDSA with an ECDSA key (an ASN.1 signature).
func (s *Signer) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if pub, ok := s.Pub.(*ecdsa.PublicKey); ok {
		return s.signECDSA(pub, digest, opts)
	}
	if _, pss := opts.(*rsa.PSSOptions); pss {
		return nil, errors.New("cardsigner: RSASSA-PSS not offered by this signer")
	}
	input, err := DigestInfo(opts.HashFunc(), digest)
	if err != nil {
		return nil, err
	}
	sig, err := s.Card.Sign(s.Key, card.SchemePKCS1, input)
	if err != nil {
		return nil, err
	}
	if err := rsa.VerifyPKCS1v15(s.Pub.(*rsa.PublicKey), opts.HashFunc(), digest, sig); err != nil {
		return nil, fmt.Errorf("the card's signature does not match its certificate: %w", err)
	}
	return sig, nil
}

// signECDSA has the card sign digest and returns the ASN.1 ECDSA-Sig-Value.
func (s *Signer) signECDSA(pub *ecdsa.PublicKey, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if h := opts.HashFunc(); h == 0 || len(digest) != h.Size() {
		return nil, fmt.Errorf("cardsigner: a %d-byte digest for %v", len(digest), h)
	}
	sig, err := s.Card.Sign(s.Key, card.SchemeECDSA, digest)
	if err != nil {
		return nil, err
	}
	half := (pub.Curve.Params().N.BitLen() + 7) / 8
	if len(sig) != 2*half {
		return nil, fmt.Errorf("the card answered a %d-byte ECDSA signature (want r||s of %d)", len(sig), 2*half)
	}
	r, ss := new(big.Int).SetBytes(sig[:half]), new(big.Int).SetBytes(sig[half:])
	if !ecdsa.Verify(pub, digest, r, ss) {
		return nil, errors.New("the card's signature does not match its certificate")
	}
	return asn1.Marshal(struct{ R, S *big.Int }{r, ss}) // ECDSA-Sig-Value (RFC 5480 §2.2.3)
}

// DigestInfo builds the PKCS#1 DigestInfo for a digest made with h.
func DigestInfo(h crypto.Hash, digest []byte) ([]byte, error) {
	p, ok := prefixes[h]
	if !ok {
		return nil, fmt.Errorf("cardsigner: hash %v not supported", h)
	}
	if len(digest) != h.Size() {
		return nil, fmt.Errorf("cardsigner: %d-byte digest for %v (want %d)", len(digest), h, h.Size())
	}
	return append(append([]byte(nil), p...), digest...), nil
}
