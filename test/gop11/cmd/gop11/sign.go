package main

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/ThalesGroup/crypto11"
)

// Signed is what `sign` reports.
type Signed struct {
	Digest      []byte `json:"digest"`
	Signature   []byte `json:"signature"`
	Certificate []byte `json:"certificate"` // DER, from the token
	PSS         bool   `json:"pss"`
}

// sign gets a crypto.Signer from crypto11 for the key pair with CKA_ID idHex on the
// token, signs a random SHA-256 digest and verifies the signature with crypto/rsa.
func sign(module, token, idHex, pin string, pss bool) error {
	id, err := hex.DecodeString(idHex)
	if err != nil || len(id) == 0 || token == "" || pin == "" {
		return errors.New("sign needs -token, -id (hex) and GOP11_PIN")
	}
	ctx, err := crypto11.Configure(&crypto11.Config{Path: module, TokenLabel: token, Pin: pin})
	if err != nil {
		return fmt.Errorf("crypto11.Configure: %w", err)
	}
	defer ctx.Close()
	signer, err := ctx.FindKeyPair(id, nil)
	if err != nil || signer == nil {
		return fmt.Errorf("crypto11 FindKeyPair(%x): %v (found %v)", id, err, signer != nil)
	}
	cert, err := ctx.FindCertificate(id, nil, nil)
	if err != nil || cert == nil {
		return fmt.Errorf("crypto11 FindCertificate(%x): %v (found %v)", id, err, cert != nil)
	}
	pub, ok := signer.Public().(*rsa.PublicKey)
	if !ok {
		return fmt.Errorf("public key is %T, want *rsa.PublicKey", signer.Public())
	}
	if !pub.Equal(cert.PublicKey) {
		return errors.New("the key pair's public key is not the certificate's")
	}
	msg := make([]byte, 64)
	if _, err := rand.Read(msg); err != nil {
		return err
	}
	digest := sha256.Sum256(msg)
	var opts crypto.SignerOpts = crypto.SHA256
	if pss {
		opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
	}
	sig, err := signer.Sign(rand.Reader, digest[:], opts)
	if err != nil {
		return fmt.Errorf("crypto11 Sign: %w", err)
	}
	if pss {
		err = rsa.VerifyPSS(pub, crypto.SHA256, digest[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	} else {
		err = rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig)
	}
	if err != nil {
		return fmt.Errorf("the card's signature does not verify: %w", err)
	}
	emit(Signed{Digest: digest[:], Signature: sig, Certificate: cert.Raw, PSS: pss})
	return nil
}
