package objects

import (
	"fmt"

	"github.com/jpki-pkcs11/jpki-pkcs11/ck"
)

// Token is one of the card's two PKCS#11 tokens.
type Token int

// The two tokens of a card.
const (
	AuthToken Token = iota + 1 // user authentication key, 4-digit PIN
	SignToken                  // digital signature key, 6-16 character password
)

// Kind is the role of an object in a token.
type Kind int

// Object roles, in the order a token lists them.
const (
	KindProfile    Kind = iota + 1 // CKO_PROFILE (authentication token only)
	KindCert                       // the key's own certificate
	KindPublicKey                  // its public key
	KindPrivateKey                 // the card's private key
	KindCACert                     // the issuing CA's certificate
)

// Spec describes one object of a token before the certificates are read: its class
// and whether it is CKA_PRIVATE are known without any card I/O.
type Spec struct {
	Kind    Kind
	Class   ck.ULong
	Private bool
	ID      []byte
	Label   string
}

// NeedsCert reports whether the object is built from the key's certificate, and
// NeedsCA whether from the CA certificate.
func (s Spec) NeedsCert() bool {
	return s.Kind == KindCert || s.Kind == KindPublicKey || s.Kind == KindPrivateKey
}

// NeedsCA reports whether the object is built from the CA certificate.
func (s Spec) NeedsCA() bool { return s.Kind == KindCACert }

// CKA_ID values and labels. The key's certificate, public key and private key
// share one CKA_ID per token; the CA certificate has its own so no client takes
// it for the holder's certificate.
var (
	AuthID   = []byte{0x01}
	SignID   = []byte{0x02}
	AuthCAID = []byte{0x11}
	SignCAID = []byte{0x12}
)

// Layout lists the objects of token t. On the authentication token everything but
// the private key is public, and a CKO_PROFILE CKP_PUBLIC_CERTIFICATES_TOKEN tells
// NSS it may read the certificates without a login. On the signature token the
// certificate and public key carry the holder's personal data (and the card only
// reveals the certificate after the PIN): they are private; its CA certificate is
// public.
func Layout(t Token) []Spec {
	switch t {
	case AuthToken:
		return []Spec{
			{Kind: KindProfile, Class: ck.CKO_PROFILE, Label: "Public Certificates Profile"},
			{Kind: KindCert, Class: ck.CKO_CERTIFICATE, ID: AuthID, Label: "User Authentication Certificate"},
			{Kind: KindPublicKey, Class: ck.CKO_PUBLIC_KEY, ID: AuthID, Label: "User Authentication Public Key"},
			{Kind: KindPrivateKey, Class: ck.CKO_PRIVATE_KEY, Private: true, ID: AuthID, Label: "User Authentication Key"},
			{Kind: KindCACert, Class: ck.CKO_CERTIFICATE, ID: AuthCAID, Label: "User Authentication CA Certificate"},
		}
	case SignToken:
		return []Spec{
			{Kind: KindCert, Class: ck.CKO_CERTIFICATE, Private: true, ID: SignID, Label: "Digital Signature Certificate"},
			{Kind: KindPublicKey, Class: ck.CKO_PUBLIC_KEY, Private: true, ID: SignID, Label: "Digital Signature Public Key"},
			{Kind: KindPrivateKey, Class: ck.CKO_PRIVATE_KEY, Private: true, ID: SignID, Label: "Digital Signature Key"},
			{Kind: KindCACert, Class: ck.CKO_CERTIFICATE, ID: SignCAID, Label: "Digital Signature CA Certificate"},
		}
	}
	return nil
}

// Build makes the object s from the key's certificate cert and the CA certificate
// ca (either may be nil when s does not need it). mechs is CKA_ALLOWED_MECHANISMS
// of a key (nil: left out).
func Build(s Spec, cert, ca *Certificate, mechs []ck.ULong) (*Object, error) {
	p := Params{ID: s.ID, Label: s.Label, Private: s.Private}
	if s.NeedsCert() && cert == nil || s.NeedsCA() && ca == nil {
		return nil, fmt.Errorf("object %q: certificate missing", s.Label)
	}
	switch s.Kind {
	case KindProfile:
		return ProfileObject(ck.CKP_PUBLIC_CERTIFICATES_TOKEN, s.Label), nil
	case KindCert:
		return CertificateObject(cert, ck.CK_CERTIFICATE_CATEGORY_TOKEN_USER, p)
	case KindPublicKey:
		return PublicKeyObject(cert, p, mechs), nil
	case KindPrivateKey:
		return PrivateKeyObject(cert, p, mechs), nil
	case KindCACert:
		return CertificateObject(ca, ck.CK_CERTIFICATE_CATEGORY_AUTHORITY, p)
	}
	return nil, fmt.Errorf("object kind %d unknown", s.Kind)
}

// ClassMatches reports whether a template can match an object of class c without
// looking at any other attribute: false only when it names another CKA_CLASS.
// It lets a search skip reading certificates for classes nobody asked for.
func ClassMatches(tmpl []Template, s Spec) bool {
	for _, a := range tmpl {
		switch a.Type {
		case ck.CKA_CLASS:
			if v, ok := ck.DecodeULong(a.Value); !ok || v != s.Class {
				return false
			}
		case ck.CKA_PRIVATE:
			if len(a.Value) != 1 || (a.Value[0] != 0) != s.Private {
				return false
			}
		case ck.CKA_ID:
			if s.Kind != KindProfile && string(a.Value) != string(s.ID) {
				return false
			}
		case ck.CKA_LABEL:
			if string(a.Value) != s.Label {
				return false
			}
		}
	}
	return true
}
