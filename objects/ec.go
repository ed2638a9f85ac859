// EC keys as PKCS#11 3.0 defines them (§2.3 "Elliptic Curve"): CKK_EC, the curve
// in CKA_EC_PARAMS as the DER of its named-curve OID, the public point in
// CKA_EC_POINT as the DER OCTET STRING of its uncompressed form (what NSS,
// OpenSSL's libp11, GnuTLS, Java and OpenSSH read).

package objects

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/asn1"
	"fmt"

	"github.com/jpki-pkcs11/jpki-pkcs11/ck"
)

// Named-curve OIDs (RFC 5480 §2.1.1.1).
var (
	oidP256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}
	oidP384 = asn1.ObjectIdentifier{1, 3, 132, 0, 34}
	oidP521 = asn1.ObjectIdentifier{1, 3, 132, 0, 35}
)

// curves are the named curves a key may be on, with their OIDs.
var curves = []struct {
	curve elliptic.Curve
	oid   asn1.ObjectIdentifier
}{{elliptic.P256(), oidP256}, {elliptic.P384(), oidP384}, {elliptic.P521(), oidP521}}

// KeyType is the certificate key's CKA_KEY_TYPE: CKK_EC or CKK_RSA.
func (c *Certificate) KeyType() ck.ULong {
	if c.EC != nil {
		return ck.CKK_EC
	}
	return ck.CKK_RSA
}

// Public is the certificate's public key (*rsa.PublicKey or *ecdsa.PublicKey).
func (c *Certificate) Public() crypto.PublicKey {
	if c.EC != nil {
		return c.EC
	}
	return c.Pub
}

// ECParams is CKA_EC_PARAMS of a key on curve: the DER of its named-curve OID.
func ECParams(curve elliptic.Curve) ([]byte, error) {
	for _, c := range curves {
		if c.curve == curve {
			return asn1.Marshal(c.oid)
		}
	}
	return nil, fmt.Errorf("EC key on %s: not a named curve of PKCS#11 here (P-256, P-384, P-521)", curve.Params().Name)
}

// ECCurve is the curve named by a CKA_EC_PARAMS value (ok false for others).
func ECCurve(params []byte) (elliptic.Curve, bool) {
	var oid asn1.ObjectIdentifier
	if rest, err := asn1.Unmarshal(params, &oid); err != nil || len(rest) != 0 {
		return nil, false
	}
	for _, c := range curves {
		if c.oid.Equal(oid) {
			return c.curve, true
		}
	}
	return nil, false
}

// ECPoint is CKA_EC_POINT of pub: the DER OCTET STRING holding 04 || X || Y.
func ECPoint(pub *ecdsa.PublicKey) ([]byte, error) {
	k, err := pub.ECDH()
	if err != nil {
		return nil, fmt.Errorf("EC public key: %w", err)
	}
	return asn1.Marshal(k.Bytes())
}

// ECSignatureLen is the length of a PKCS#11 ECDSA signature on curve: r||s, each
// as long as the curve's order.
func ECSignatureLen(curve elliptic.Curve) int {
	return 2 * ((curve.Params().N.BitLen() + 7) / 8)
}

// ecKey sets the EC attributes of a key object (public and private alike: a
// private key carries the point too, as libp11 and GnuTLS look for it there).
// ParseCertificate has checked the curve and the point.
func ecKey(o *Object, pub *ecdsa.PublicKey) {
	params, _ := ECParams(pub.Curve)
	point, _ := ECPoint(pub)
	o.bytes(ck.CKA_EC_PARAMS, params)
	o.bytes(ck.CKA_EC_POINT, point)
}
