// ECDSA keys (the next card generation): what SignInit, Sign and Verify need
// beyond the mechanisms of mech.go.

package session

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"fmt"
	"math/big"

	"github.com/jpki-pkcs11/jpki-pkcs11/card"
	"github.com/jpki-pkcs11/jpki-pkcs11/ck"
	"github.com/jpki-pkcs11/jpki-pkcs11/objects"
)

// verifyECDSA reports whether sig, r||s as PKCS#11 gives it (each half the
// curve order's byte length), is pub's ECDSA signature over hash. It is the
// check of a card's ECDSA signature and of C_Verify with an ECDSA mechanism.
func verifyECDSA(pub *ecdsa.PublicKey, hash, sig []byte) bool {
	if pub == nil || len(sig) != objects.ECSignatureLen(pub.Curve) || len(hash) == 0 {
		return false
	}
	half := len(sig) / 2
	r, s := new(big.Int).SetBytes(sig[:half]), new(big.Int).SetBytes(sig[half:])
	return ecdsa.Verify(pub, hash, r, s)
}

// finishECDSA checks sig over the hash of the data fed (or the hash given, for
// CKM_ECDSA) with the certificate's ECDSA key.
func (op *verifyOp) finishECDSA(sig []byte) error {
	if len(sig) != objects.ECSignatureLen(op.ec.Curve) {
		return ck.CKR_SIGNATURE_LEN_RANGE
	}
	hash := op.buf
	if op.h != nil {
		hash = op.h.Sum(nil)
	}
	if len(hash) == 0 {
		return ck.CKR_DATA_LEN_RANGE
	}
	if !verifyECDSA(op.ec, hash, sig) {
		return ck.CKR_SIGNATURE_INVALID
	}
	return nil
}

// signatureLen is the length of a signature with key object o, fixed at
// SignInit: r||s from the curve of an EC key, the modulus length of an RSA key.
func signatureLen(o *objects.Object) int {
	if params, rv := o.Attr(ck.CKA_EC_PARAMS); rv == ck.CKR_OK {
		if curve, ok := objects.ECCurve(params); ok {
			return objects.ECSignatureLen(curve)
		}
	}
	return modulusLen(o)
}

// mechFitsCard refuses (CKR_MECHANISM_INVALID) a signature mechanism the card's
// keys do not have: an ECDSA mechanism on an RSA card, an RSA one on an ECDSA
// card. Each card generation's keys have one algorithm.
func mechFitsCard(alg card.Algorithm, mech ck.ULong) error {
	if isECDSA(mech) != (alg == card.ECDSAP384) {
		return ck.CKR_MECHANISM_INVALID
	}
	return nil
}

// keyMatches refuses a holder certificate whose key is not of the algorithm of
// the generation that speaks to the card: a card that answers as today's JPKI
// application but holds an ECDSA certificate is a next-generation card (or
// another token) whose commands are not known: not yet supported.
func keyMatches(alg card.Algorithm, cert *objects.Certificate) error {
	switch {
	case alg == card.ECDSAP384 && cert.EC != nil && cert.EC.Curve == elliptic.P384():
		return nil
	case alg == card.RSA2048 && cert.Pub != nil:
		return nil
	}
	return fmt.Errorf("%w: the card speaks the %v generation's commands but its certificate holds a %s key",
		card.ErrNotYetSupported, alg, keyName(cert))
}

func keyName(cert *objects.Certificate) string {
	if cert.EC != nil {
		return "ECDSA " + cert.EC.Curve.Params().Name
	}
	return fmt.Sprintf("RSA-%d", cert.Pub.N.BitLen())
}
