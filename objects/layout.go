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
	KindProfile    Kind = iota + 1 // CKO_PROFILE CKP_PUBLIC_CERTIFICATES_TOKEN
	KindCert                       // the key's own certificate
	KindPublicKey                  // its public key
	KindPrivateKey                 // the card's private key
	KindCACert                     // the issuing CA's certificate
)

// Spec describes one object of a token before the certificates are read: its class
// and whether it is CKA_PRIVATE are known without any card I/O. AlwaysAuth is a
// private key's CKA_ALWAYS_AUTHENTICATE: each signature wants a
// C_Login(CKU_CONTEXT_SPECIFIC) (or a login of the token) first.
type Spec struct {
	Kind       Kind
	Class      ck.ULong
	Private    bool
	AlwaysAuth bool
	ID         []byte
	Label      string
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

// Layout lists the objects of token t. See docs/ONE-PIN.md for why.
//
// The authentication token needs no login (LoginRequired is false): every object,
// the private key included, is public, so NSS finds the certificate and its key
// without asking for a PIN, and the key is CKA_ALWAYS_AUTHENTICATE so that NSS
// asks the PIN once, at the signature (C_Login(CKU_CONTEXT_SPECIFIC)). This
// deviates on purpose from PKCS#11 3.0 4.9, which says an always-authenticate key
// is also CKA_PRIVATE: NSS only sees a private object after a token login, and a
// token login is exactly the prompt this layout avoids.
//
// On the signature token the certificate and public key carry the holder's
// personal data (and the card only reveals the certificate after the password):
// they are private, and so is the key; the token requires a login. Its CA
// certificate is public and both tokens carry a CKO_PROFILE
// CKP_PUBLIC_CERTIFICATES_TOKEN, which makes NSS treat them as "friendly"
// (PK11_IsFriendly): NSS lists their public certificates without logging in.
func Layout(t Token) []Spec {
	switch t {
	case AuthToken:
		return []Spec{
			{Kind: KindProfile, Class: ck.CKO_PROFILE, Label: "Public Certificates Profile"},
			{Kind: KindCert, Class: ck.CKO_CERTIFICATE, ID: AuthID, Label: "User Authentication Certificate"},
			{Kind: KindPublicKey, Class: ck.CKO_PUBLIC_KEY, ID: AuthID, Label: "User Authentication Public Key"},
			{Kind: KindPrivateKey, Class: ck.CKO_PRIVATE_KEY, AlwaysAuth: true, ID: AuthID, Label: "User Authentication Key"},
			{Kind: KindCACert, Class: ck.CKO_CERTIFICATE, ID: AuthCAID, Label: "User Authentication CA Certificate"},
		}
	case SignToken:
		return []Spec{
			{Kind: KindProfile, Class: ck.CKO_PROFILE, Label: "Public Certificates Profile"},
			{Kind: KindCert, Class: ck.CKO_CERTIFICATE, Private: true, ID: SignID, Label: "Digital Signature Certificate"},
			{Kind: KindPublicKey, Class: ck.CKO_PUBLIC_KEY, Private: true, ID: SignID, Label: "Digital Signature Public Key"},
			{Kind: KindPrivateKey, Class: ck.CKO_PRIVATE_KEY, Private: true, ID: SignID, Label: "Digital Signature Key"},
			{Kind: KindCACert, Class: ck.CKO_CERTIFICATE, ID: SignCAID, Label: "Digital Signature CA Certificate"},
		}
	}
	return nil
}

// LoginRequired reports whether token t sets CKF_LOGIN_REQUIRED: whether any of
// its objects is CKA_PRIVATE. NSS logs in to such a token before it uses it
// (PK11_Authenticate) and never to one without the flag.
func LoginRequired(t Token) bool { return RequiresLogin(Layout(t)) }

// RequiresLogin reports whether a token with the objects specs sets
// CKF_LOGIN_REQUIRED: whether any of them is CKA_PRIVATE.
func RequiresLogin(specs []Spec) bool {
	for _, s := range specs {
		if s.Private {
			return true
		}
	}
	return false
}

// Classic returns a copy of specs in which the private key is CKA_PRIVATE and not
// always-authenticate: the usual layout of a token that requires a login. It is
// the authentication token's layout when it is shown alone (tokens=auth): with no
// signature token beside it there is no reason to keep it login-free, and clients
// that log in only to login-required tokens (ssh-agent, libp11 with a pin-value)
// then work with its PIN as given (docs/ONE-PIN.md).
func Classic(specs []Spec) []Spec {
	out := append([]Spec(nil), specs...)
	for i := range out {
		if out[i].Kind == KindPrivateKey {
			out[i].Private, out[i].AlwaysAuth = true, false
		}
	}
	return out
}

// Build makes the object s from the key's certificate cert and the CA certificate
// ca (either may be nil when s does not need it). mechs is CKA_ALLOWED_MECHANISMS
// of a key (nil: left out).
func Build(s Spec, cert, ca *Certificate, mechs []ck.ULong) (*Object, error) {
	p := Params{ID: s.ID, Label: s.Label, Private: s.Private, AlwaysAuth: s.AlwaysAuth}
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

// CertAfterLogin returns a copy of specs for a token whose card reveals the
// key's certificate only after the PIN (the authentication token of the Android
// smartphone certificate): its certificate, public key and private key are
// CKA_PRIVATE (listed after the login), the key is not always-authenticate (the
// login comes first), and the CKO_PROFILE CKP_PUBLIC_CERTIFICATES_TOKEN is left
// out, since its certificate is not public. The token then requires a login, and
// NSS, which finds no public-certificates profile, logs in to it before it lists
// its certificates (docs/ONE-PIN.md, "The smartphone certificate").
func CertAfterLogin(specs []Spec) []Spec {
	var out []Spec
	for _, s := range specs {
		switch s.Kind {
		case KindProfile:
			continue
		case KindCert, KindPublicKey, KindPrivateKey:
			s.Private, s.AlwaysAuth = true, false
		}
		out = append(out, s)
	}
	return out
}
