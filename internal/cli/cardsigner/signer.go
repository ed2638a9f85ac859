// Package cardsigner offers a card key as a crypto.Signer: the host hashes, builds
// the PKCS#1 DigestInfo and the card signs it (signature scheme 00).
package cardsigner

import (
	"crypto"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"

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
	Card *card.Card
	Key  card.Key
	Pub  *rsa.PublicKey // from the key's certificate
}

// New returns a Signer for key k of c; pub is the public key of k's certificate.
func New(c *card.Card, k card.Key, pub crypto.PublicKey) (*Signer, error) {
	rp, ok := pub.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("the %v certificate has a %T key; only RSA is supported", k, pub)
	}
	return &Signer{Card: c, Key: k, Pub: rp}, nil
}

// Public returns the key's public half.
func (s *Signer) Public() crypto.PublicKey { return s.Pub }

// Sign signs digest (already hashed with opts.HashFunc()) with PKCS#1 v1.5.
// RSASSA-PSS is refused.
func (s *Signer) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
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
	if err := rsa.VerifyPKCS1v15(s.Pub, opts.HashFunc(), digest, sig); err != nil {
		return nil, fmt.Errorf("the card's signature does not match its certificate: %w", err)
	}
	return sig, nil
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
