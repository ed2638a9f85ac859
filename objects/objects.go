// Package objects turns the card's certificates into PKCS#11 objects: pure
// functions from certificate DER to attribute tables, and template matching.
// Nothing here talks to a card.
package objects

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"maps"
	"time"

	"github.com/jpki-pkcs11/jpki-pkcs11/ck"
)

// Object is one PKCS#11 object: a table of attribute values in native encoding.
// Attributes named in sensitive exist but are never revealed.
type Object struct {
	Class   ck.ULong
	Private bool
	attrs   map[ck.ULong][]byte
	sens    map[ck.ULong]bool
}

// Attr returns the value of attribute t, or CKR_ATTRIBUTE_SENSITIVE /
// CKR_ATTRIBUTE_TYPE_INVALID. The returned slice is a copy.
func (o *Object) Attr(t ck.ULong) ([]byte, ck.RV) {
	if o.sens[t] {
		return nil, ck.CKR_ATTRIBUTE_SENSITIVE
	}
	v, ok := o.attrs[t]
	if !ok {
		return nil, ck.CKR_ATTRIBUTE_TYPE_INVALID
	}
	return bytes.Clone(v), ck.CKR_OK
}

// With returns a copy of o whose attribute t has the value v (o is unchanged).
func (o *Object) With(t ck.ULong, v []byte) *Object {
	c := &Object{Class: o.Class, Private: o.Private, attrs: maps.Clone(o.attrs), sens: o.sens}
	c.attrs[t] = bytes.Clone(v)
	return c
}

// Size is the object's encoded size: the bytes of all its attribute values that
// can be read (sensitive attributes count nothing), in native encoding.
func (o *Object) Size() int {
	n := 0
	for t, v := range o.attrs {
		if !o.sens[t] {
			n += len(v)
		}
	}
	return n
}

// Template is one attribute of a search template.
type Template struct {
	Type  ck.ULong
	Value []byte
}

// Match reports whether every attribute of tmpl is present with the same bytes
// (native encoding; a CK_BBOOL is one byte). Sensitive attributes never match.
func (o *Object) Match(tmpl []Template) bool {
	for _, a := range tmpl {
		v, ok := o.attrs[a.Type]
		if !ok || o.sens[a.Type] || !bytes.Equal(v, a.Value) {
			return false
		}
	}
	return true
}

// Types lists the attribute types the object has (for tests and logs).
func (o *Object) Types() []ck.ULong {
	out := make([]ck.ULong, 0, len(o.attrs)+len(o.sens))
	for t := range o.attrs {
		out = append(out, t)
	}
	for t := range o.sens {
		out = append(out, t)
	}
	return out
}

func newObject(class ck.ULong, private bool, label string) *Object {
	o := &Object{Class: class, Private: private, attrs: map[ck.ULong][]byte{}, sens: map[ck.ULong]bool{}}
	o.ulong(ck.CKA_CLASS, class)
	o.bool(ck.CKA_TOKEN, true)
	o.bool(ck.CKA_PRIVATE, private)
	o.bool(ck.CKA_MODIFIABLE, false)
	o.bool(ck.CKA_COPYABLE, false)
	o.bool(ck.CKA_DESTROYABLE, false)
	o.attrs[ck.CKA_LABEL] = []byte(label)
	return o
}

func (o *Object) bool(t ck.ULong, v bool)      { o.attrs[t] = ck.Bool(v) }
func (o *Object) ulong(t ck.ULong, v ck.ULong) { o.attrs[t] = ck.EncodeULong(v) }
func (o *Object) bytes(t ck.ULong, v []byte)   { o.attrs[t] = bytes.Clone(v) }
func (o *Object) ulongs(t ck.ULong, v []ck.ULong) {
	b := make([]byte, 0, len(v)*ck.ULongSize)
	for _, x := range v {
		b = append(b, ck.EncodeULong(x)...)
	}
	o.attrs[t] = b
}

// Date encodes t as a CK_DATE ("YYYYMMDD", 8 ASCII bytes) in UTC.
func Date(t time.Time) []byte { return []byte(t.UTC().Format("20060102")) }

// Certificate holds what the three objects of one key need. Exactly one of Pub
// and EC is set.
type Certificate struct {
	Cert *x509.Certificate
	Pub  *rsa.PublicKey   // the key when it is RSA (today's cards)
	EC   *ecdsa.PublicKey // the key when it is ECDSA on a named curve (the next generation: P-384)
}

// ParseCertificate parses DER and checks it holds an RSA public key or an ECDSA
// one on a named curve (P-256, P-384, P-521).
func ParseCertificate(der []byte) (*Certificate, error) {
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	switch pub := c.PublicKey.(type) {
	case *rsa.PublicKey:
		return &Certificate{Cert: c, Pub: pub}, nil
	case *ecdsa.PublicKey:
		if _, err := ECParams(pub.Curve); err != nil {
			return nil, fmt.Errorf("certificate: %w", err)
		}
		if _, err := ECPoint(pub); err != nil {
			return nil, fmt.Errorf("certificate: %w", err)
		}
		return &Certificate{Cert: c, EC: pub}, nil
	}
	return nil, fmt.Errorf("certificate: public key is %T, neither RSA nor ECDSA", c.PublicKey)
}

// Params are the per-object choices of the token: CKA_ID, CKA_LABEL, CKA_PRIVATE
// and (private keys) CKA_ALWAYS_AUTHENTICATE.
type Params struct {
	ID         []byte
	Label      string
	Private    bool
	AlwaysAuth bool
}

// CertificateObject builds the CKO_CERTIFICATE object of c with the given
// category (ck.CK_CERTIFICATE_CATEGORY_TOKEN_USER or _AUTHORITY).
func CertificateObject(c *Certificate, category ck.ULong, p Params) (*Object, error) {
	serial, err := asn1.Marshal(c.Cert.SerialNumber)
	if err != nil {
		return nil, fmt.Errorf("certificate serial: %w", err)
	}
	o := newObject(ck.CKO_CERTIFICATE, p.Private, p.Label)
	o.ulong(ck.CKA_CERTIFICATE_TYPE, ck.CKC_X_509)
	o.bool(ck.CKA_TRUSTED, false)
	o.ulong(ck.CKA_CERTIFICATE_CATEGORY, category)
	sum := sha1.Sum(c.Cert.Raw)
	o.bytes(ck.CKA_CHECK_VALUE, sum[:3])
	o.bytes(ck.CKA_START_DATE, Date(c.Cert.NotBefore))
	o.bytes(ck.CKA_END_DATE, Date(c.Cert.NotAfter))
	o.bytes(ck.CKA_PUBLIC_KEY_INFO, c.Cert.RawSubjectPublicKeyInfo)
	o.bytes(ck.CKA_SUBJECT, c.Cert.RawSubject)
	o.bytes(ck.CKA_ISSUER, c.Cert.RawIssuer)
	o.bytes(ck.CKA_SERIAL_NUMBER, serial)
	o.bytes(ck.CKA_ID, p.ID)
	o.bytes(ck.CKA_VALUE, c.Cert.Raw)
	o.bytes(ck.CKA_URL, nil)
	o.bytes(ck.CKA_HASH_OF_SUBJECT_PUBLIC_KEY, nil)
	o.bytes(ck.CKA_HASH_OF_ISSUER_PUBLIC_KEY, nil)
	o.ulong(ck.CKA_JAVA_MIDP_SECURITY_DOMAIN, ck.CK_SECURITY_DOMAIN_UNSPECIFIED)
	o.ulong(ck.CKA_NAME_HASH_ALGORITHM, ck.CKM_SHA_1)
	return o, nil
}

func keyCommon(o *Object, c *Certificate, p Params, mechs []ck.ULong) {
	o.ulong(ck.CKA_KEY_TYPE, c.KeyType())
	o.bytes(ck.CKA_ID, p.ID)
	o.bytes(ck.CKA_START_DATE, Date(c.Cert.NotBefore))
	o.bytes(ck.CKA_END_DATE, Date(c.Cert.NotAfter))
	o.bool(ck.CKA_DERIVE, false)
	o.bool(ck.CKA_LOCAL, false)
	o.ulong(ck.CKA_KEY_GEN_MECHANISM, ck.CK_UNAVAILABLE_INFORMATION)
	if mechs != nil {
		o.ulongs(ck.CKA_ALLOWED_MECHANISMS, mechs)
	}
	o.bytes(ck.CKA_SUBJECT, c.Cert.RawSubject)
	o.bytes(ck.CKA_PUBLIC_KEY_INFO, c.Cert.RawSubjectPublicKeyInfo)
	if c.EC != nil {
		ecKey(o, c.EC)
		return
	}
	o.bytes(ck.CKA_MODULUS, c.Pub.N.Bytes())
	o.ulong(ck.CKA_MODULUS_BITS, ck.ULong(c.Pub.N.BitLen()))
	o.bytes(ck.CKA_PUBLIC_EXPONENT, bigEndian(c.Pub.E))
}

func bigEndian(e int) []byte {
	var b []byte
	for v := uint64(e); v > 0; v >>= 8 {
		b = append([]byte{byte(v)}, b...)
	}
	return b
}

// PublicKeyObject builds the CKO_PUBLIC_KEY object of c (verify only). A nil
// mechs leaves CKA_ALLOWED_MECHANISMS out (the caller adds it when known).
func PublicKeyObject(c *Certificate, p Params, mechs []ck.ULong) *Object {
	o := newObject(ck.CKO_PUBLIC_KEY, p.Private, p.Label)
	keyCommon(o, c, p, mechs)
	o.bool(ck.CKA_ENCRYPT, false)
	o.bool(ck.CKA_VERIFY, true)
	o.bool(ck.CKA_VERIFY_RECOVER, false)
	o.bool(ck.CKA_WRAP, false)
	o.bool(ck.CKA_TRUSTED, false)
	return o
}

// PrivateKeyObject builds the CKO_PRIVATE_KEY object of the card key whose
// certificate is c: sign only, sensitive, never extractable; its private parts
// answer CKR_ATTRIBUTE_SENSITIVE.
func PrivateKeyObject(c *Certificate, p Params, mechs []ck.ULong) *Object {
	o := newObject(ck.CKO_PRIVATE_KEY, p.Private, p.Label)
	keyCommon(o, c, p, mechs)
	o.bool(ck.CKA_SENSITIVE, true)
	o.bool(ck.CKA_DECRYPT, false)
	o.bool(ck.CKA_SIGN, true)
	o.bool(ck.CKA_SIGN_RECOVER, false)
	o.bool(ck.CKA_UNWRAP, false)
	o.bool(ck.CKA_EXTRACTABLE, false)
	o.bool(ck.CKA_ALWAYS_SENSITIVE, true)
	o.bool(ck.CKA_NEVER_EXTRACTABLE, true)
	o.bool(ck.CKA_WRAP_WITH_TRUSTED, false)
	o.bool(ck.CKA_ALWAYS_AUTHENTICATE, p.AlwaysAuth)
	secret := []ck.ULong{ck.CKA_PRIVATE_EXPONENT, ck.CKA_PRIME_1, ck.CKA_PRIME_2,
		ck.CKA_EXPONENT_1, ck.CKA_EXPONENT_2, ck.CKA_COEFFICIENT}
	if c.EC != nil {
		secret = []ck.ULong{ck.CKA_VALUE} // the private scalar
	}
	for _, t := range secret {
		o.sens[t] = true
	}
	return o
}

// ProfileObject builds a public CKO_PROFILE object with the given CKA_PROFILE_ID.
func ProfileObject(profile ck.ULong, label string) *Object {
	o := newObject(ck.CKO_PROFILE, false, label)
	o.ulong(ck.CKA_PROFILE_ID, profile)
	return o
}
