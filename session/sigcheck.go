package session

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"errors"
	"fmt"

	"github.com/jpki-pkcs11/jpki-pkcs11/card"
)

// pssSaltLen is the salt length of the card's RSASSA-PSS (card.SchemePSSSHA256).
const pssSaltLen = 32

// checkSignature tells whether sig, the card's answer to a signature command, is
// a valid signature under pub of input with scheme, where input is exactly what
// the card was given (card.SchemePKCS1: the DigestInfo, or the caller's data for
// CKM_RSA_PKCS; card.SchemePSSSHA256: the 32-byte SHA-256 hash; card.SchemeECDSA:
// the hash, with sig r||s as the card answered it). A card's answer
// is checked before it is believed: a faulty or hostile card, or a faulty RSA
// computation (whose output can leak the key), must never reach the caller.
// It costs microseconds next to the card's signature.
//
// The shape is (scheme, public key, input, signature) -> error: a key type is
// one more case on pub's type.
func checkSignature(scheme byte, pub crypto.PublicKey, input, sig []byte) error {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k == nil {
			break
		}
		switch scheme {
		case card.SchemePKCS1:
			return rsa.VerifyPKCS1v15(k, 0, input, sig) // input is the encoded DigestInfo
		case card.SchemePSSSHA256:
			return rsa.VerifyPSS(k, crypto.SHA256, input, sig, &rsa.PSSOptions{SaltLength: pssSaltLen})
		}
		return fmt.Errorf("no check for scheme %#02x with an RSA key", scheme)
	case *ecdsa.PublicKey:
		if k == nil {
			break
		}
		if scheme != card.SchemeECDSA {
			return fmt.Errorf("no check for scheme %#02x with an ECDSA key", scheme)
		}
		if !verifyECDSA(k, input, sig) {
			return errors.New("ecdsa: verification error")
		}
		return nil
	}
	if pub == nil {
		return errors.New("no public key to check the signature with")
	}
	return fmt.Errorf("no signature check for a %T key", pub)
}
