package vcard

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/jpki-pkcs11/jpki-pkcs11/card"
)

var (
	oidSubjectAltName = asn1.ObjectIdentifier{2, 5, 29, 17}
	oidCountry        = asn1.ObjectIdentifier{2, 5, 4, 6}
	oidLocality       = asn1.ObjectIdentifier{2, 5, 4, 7}
	oidCommonName     = asn1.ObjectIdentifier{2, 5, 4, 3}
	oidOrganization   = asn1.ObjectIdentifier{2, 5, 4, 10}
	oidOrgUnit        = asn1.ObjectIdentifier{2, 5, 4, 11}
)

// material is everything Create writes: keys and DER certificates. The keys are
// *rsa.PrivateKey on today's cards, *ecdsa.PrivateKey (P-384) on the next
// generation; signKey and signCAKey are nil on an under-15 card.
type material struct {
	authKey, signKey, authCAKey, signCAKey crypto.Signer
	authCert, signCert, authCA, signCA     []byte
}

const jlis = "Japan Agency for Local Authority Information Systems"

func caName(purpose string) pkix.Name {
	// One RDN per attribute, in the real CAs' order (shared/jpki-ca): pkix.Name's
	// OrganizationalUnit would put both OUs in one multi-valued RDN ("OU=a+OU=b"),
	// which no JPKI certificate has and LibreOffice 7.4 cannot sign with.
	return pkix.Name{ExtraNames: []pkix.AttributeTypeAndValue{
		{Type: oidCountry, Value: "JP"},
		{Type: oidOrganization, Value: "JPKI-TEST"},
		{Type: oidOrgUnit, Value: purpose},
		{Type: oidOrgUnit, Value: jlis},
	}}
}

// fifthBirthday returns the holder's 5th birthday after issued (JPKI.md §7), at the
// end of that day in Japan (14:59:59 UTC).
func fifthBirthday(birth, issued time.Time) time.Time {
	y := issued.Year()
	next := birthdayIn(birth, y)
	if !next.After(issued) {
		next = birthdayIn(birth, y+1)
	}
	b := birthdayIn(birth, next.Year()+4)
	return time.Date(b.Year(), b.Month(), b.Day(), 14, 59, 59, 0, time.UTC)
}

// birthdayIn is the birthday in year y (29 February falls on 1 March).
func birthdayIn(birth time.Time, y int) time.Time {
	return time.Date(y, birth.Month(), birth.Day(), 0, 0, 0, 0, time.UTC)
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 63))
	if err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return n.Add(n, big.NewInt(1))
}

func randomDigits(n int) string {
	b := make([]byte, n)
	for i := range b {
		d, err := rand.Int(rand.Reader, big.NewInt(10))
		if err != nil {
			panic(err)
		}
		b[i] = byte('0' + d.Int64())
	}
	return string(b)
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return strings.ToUpper(hex.EncodeToString(b))
}

// caKeys holds the test CAs' two keys, generated once per process: every card a
// process makes shares them (the holder keys are always fresh), which halves the
// cost of a card in tests. With nextCAKeys (the next generation's), this is the
// package's only process-wide state.
var caKeys struct {
	once sync.Once
	keys [2]*rsa.PrivateKey
	err  error
}

func testCAKeys() ([2]*rsa.PrivateKey, error) {
	caKeys.once.Do(func() {
		for i := range caKeys.keys {
			if caKeys.keys[i], caKeys.err = rsa.GenerateKey(rand.Reader, 2048); caKeys.err != nil {
				return
			}
		}
	})
	return caKeys.keys, caKeys.err
}

// makeMaterial generates keys and certificates for o (already defaulted):
// RSA-2048 keys and SHA-256 certificates valid until the holder's 5th birthday
// after issue on today's cards, ECDSA P-384 keys and SHA-384 certificates valid
// 10 years on the next generation (nextMaterialKeys).
func makeMaterial(o Options) (*material, error) {
	if o.Generation == GenerationNext {
		return nextMaterial(o)
	}
	ca, err := testCAKeys()
	if err != nil {
		return nil, err
	}
	newKey := func() (crypto.Signer, error) {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, fmt.Errorf("generate RSA key: %w", err)
		}
		return key, nil
	}
	notAfter := fifthBirthday(o.Birth, o.Issued)
	if o.Juki {
		notAfter = o.Issued.AddDate(3, 0, 0)
	}
	return issue(o, newKey, ca[0], ca[1], notAfter)
}

// issue generates the holder keys with newKey and the CA and holder
// certificates, issued by authCAKey and signCAKey (the signature algorithm
// follows the CA key: SHA-256 with RSA, SHA-384 with ECDSA P-384), the holder's
// valid from o.Issued to notAfter.
func issue(o Options, newKey func() (crypto.Signer, error), authCAKey, signCAKey crypto.Signer, notAfter time.Time) (*material, error) {
	m := material{authCAKey: authCAKey}
	var err error
	keys := []*crypto.Signer{&m.authKey}
	if !o.Under15 {
		m.signCAKey = signCAKey
		keys = append(keys, &m.signKey)
	}
	for _, k := range keys {
		if *k, err = newKey(); err != nil {
			return nil, err
		}
	}
	notBefore := o.Issued
	caFrom, caTo := o.Issued.AddDate(-2, 0, 0), o.Issued.AddDate(20, 0, 0)

	authCA := &x509.Certificate{SerialNumber: serial(), Subject: caName("JPKI for user authentication"),
		NotBefore: caFrom, NotAfter: caTo, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	if m.authCA, err = x509.CreateCertificate(rand.Reader, authCA, authCA, m.authCAKey.Public(), m.authCAKey); err != nil {
		return nil, fmt.Errorf("auth CA certificate: %w", err)
	}
	authCA, _ = x509.ParseCertificate(m.authCA)
	auth := &x509.Certificate{SerialNumber: serial(),
		Subject:   pkix.Name{Country: []string{"JP"}, CommonName: randomHex(12) + "A"},
		NotBefore: notBefore, NotAfter: notAfter, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if m.authCert, err = x509.CreateCertificate(rand.Reader, auth, authCA, m.authKey.Public(), m.authCAKey); err != nil {
		return nil, fmt.Errorf("auth certificate: %w", err)
	}
	if o.Under15 {
		return &m, nil
	}
	signCA := &x509.Certificate{SerialNumber: serial(), Subject: caName("JPKI for digital signature"),
		NotBefore: caFrom, NotAfter: caTo, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	if m.signCA, err = x509.CreateCertificate(rand.Reader, signCA, signCA, m.signCAKey.Public(), m.signCAKey); err != nil {
		return nil, fmt.Errorf("sign CA certificate: %w", err)
	}
	signCA, _ = x509.ParseCertificate(m.signCA)
	san, err := sanExtension(o)
	if err != nil {
		return nil, err
	}
	// One RDN per attribute, as on a real card: C, L (prefecture), L (municipality), CN.
	subject, err := asn1.Marshal(pkix.RDNSequence{
		{{Type: oidCountry, Value: "JP"}},
		{{Type: oidLocality, Value: "Tokyo-to"}},
		{{Type: oidLocality, Value: "Chiyoda-ku"}},
		{{Type: oidCommonName, Value: randomHex(12) + "S"}},
	})
	if err != nil {
		return nil, err
	}
	sign := &x509.Certificate{SerialNumber: serial(), RawSubject: subject,
		NotBefore: notBefore, NotAfter: notAfter, // never outlives the auth certificate: same end
		KeyUsage:        x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		ExtraExtensions: []pkix.Extension{san}}
	if m.signCert, err = x509.CreateCertificate(rand.Reader, sign, signCA, m.signKey.Public(), m.signCAKey); err != nil {
		return nil, fmt.Errorf("sign certificate: %w", err)
	}
	return &m, nil
}

// sanExtension builds subjectAltName with the holder's data as otherName entries.
func sanExtension(o Options) (pkix.Extension, error) {
	entries := []struct {
		oid asn1.ObjectIdentifier
		v   string
	}{
		{card.OIDHolderName, o.Name}, {card.OIDHolderNameAlt, o.NameAlt}, {card.OIDHolderSex, o.Sex},
		{card.OIDHolderBirth, o.Birth.Format("20060102")}, {card.OIDHolderAddress, o.Address}, {card.OIDHolderAddressAlt, o.AddressAlt},
	}
	var names []byte
	for _, e := range entries {
		if e.v == "" {
			continue
		}
		val, err := stringValue(e.v)
		if err != nil {
			return pkix.Extension{}, err
		}
		oid, err := asn1.Marshal(e.oid)
		if err != nil {
			return pkix.Extension{}, err
		}
		explicit, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: val})
		if err != nil {
			return pkix.Extension{}, err
		}
		other, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true,
			Bytes: append(oid, explicit...)})
		if err != nil {
			return pkix.Extension{}, err
		}
		names = append(names, other...)
	}
	seq, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: names})
	if err != nil {
		return pkix.Extension{}, err
	}
	return pkix.Extension{Id: oidSubjectAltName, Value: seq}, nil
}

// stringValue encodes s as a PrintableString when it can be one, else UTF8String.
func stringValue(s string) ([]byte, error) {
	if isPrintable(s) {
		return asn1.MarshalWithParams(s, "printable")
	}
	return asn1.MarshalWithParams(s, "utf8")
}

func isPrintable(s string) bool {
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune(" '()+,-./:=?", r):
		default:
			return false
		}
	}
	return true
}

// SubjectAltNames decodes the otherName entries of a signature certificate
// (JPKI.md §5): OID (dotted) -> value. For tests and `jpki-vcard info`.
func SubjectAltNames(cert *x509.Certificate) (map[string]string, error) {
	out := map[string]string{}
	for _, ext := range cert.Extensions {
		if !ext.Id.Equal(oidSubjectAltName) {
			continue
		}
		var seq asn1.RawValue
		if _, err := asn1.Unmarshal(ext.Value, &seq); err != nil {
			return nil, fmt.Errorf("subjectAltName: %w", err)
		}
		rest := seq.Bytes
		for len(rest) > 0 {
			var gn asn1.RawValue
			var err error
			if rest, err = asn1.Unmarshal(rest, &gn); err != nil {
				return nil, fmt.Errorf("subjectAltName entry: %w", err)
			}
			if gn.Class != asn1.ClassContextSpecific || gn.Tag != 0 {
				continue
			}
			var oid asn1.ObjectIdentifier
			inner, err := asn1.Unmarshal(gn.Bytes, &oid)
			if err != nil {
				return nil, fmt.Errorf("otherName type: %w", err)
			}
			var explicit asn1.RawValue
			if _, err := asn1.Unmarshal(inner, &explicit); err != nil {
				return nil, fmt.Errorf("otherName value: %w", err)
			}
			var v asn1.RawValue
			if _, err := asn1.Unmarshal(explicit.Bytes, &v); err != nil {
				return nil, fmt.Errorf("otherName string: %w", err)
			}
			out[oid.String()] = string(v.Bytes)
		}
	}
	return out, nil
}
