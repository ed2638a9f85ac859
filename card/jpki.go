package card

import "encoding/asn1"

// AID of the JPKI application (shared/JPKI.md §1).
var AID = []byte{0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01}

// Elementary files of the JPKI AP (shared/JPKI.md §3).
const (
	EFSignCert   uint16 = 0x0001 // signature certificate: readable only after the sign PIN
	EFSignCACert uint16 = 0x0002
	EFTokenInfo  uint16 = 0x0006
	EFPresence   uint16 = 0x0008
	EFAuthCert   uint16 = 0x000A
	EFAuthCACert uint16 = 0x000B
	EFAuthKey    uint16 = 0x0017
	EFAuthPIN    uint16 = 0x0018
	EFSignKey    uint16 = 0x001A
	EFSignPIN    uint16 = 0x001B
)

// Token-info labels (EF 0006, 32 bytes space padded).
const (
	LabelMyNumber = "JPKIAPICCTOKEN2"
	LabelJuki     = "JPKIAPICCTOKEN"
	LabelAndroid  = "JPKIAPGPSETOKEN"
	LabelIPhone   = "JPKIAPIOSTOKEN"
)

// Key names one of the card's two key pairs.
type Key int

// The two key pairs; zero is "unset".
const (
	AuthKey Key = iota + 1 // user authentication (利用者証明用), 4-digit PIN
	SignKey                // digital signature (署名用), 6-16 character password
)

func (k Key) String() string {
	switch k {
	case AuthKey:
		return "authentication"
	case SignKey:
		return "signature"
	}
	return "unknown key"
}

// PINFile is the EF of the key's PIN.
func (k Key) PINFile() uint16 {
	if k == SignKey {
		return EFSignPIN
	}
	return EFAuthPIN
}

// KeyFile is the EF of the private key.
func (k Key) KeyFile() uint16 {
	if k == SignKey {
		return EFSignKey
	}
	return EFAuthKey
}

// CertFile is the EF of the key's certificate.
func (k Key) CertFile() uint16 {
	if k == SignKey {
		return EFSignCert
	}
	return EFAuthCert
}

// CACertFile is the EF of the certificate of the CA that issued the key's certificate.
func (k Key) CACertFile() uint16 {
	if k == SignKey {
		return EFSignCACert
	}
	return EFAuthCACert
}

// MaxTries is the retry counter of a fresh PIN: 3 for authentication, 5 for signature.
func (k Key) MaxTries() int {
	if k == SignKey {
		return 5
	}
	return 3
}

// Other applications of the My Number Card (shared/JPKI.md §1) that only a My
// Number Card has: Identify selects them on a card without the JPKI AP, to tell a
// My Number Card whose JPKI application it does not know (a newer card generation
// may regroup the applications) from a card that is not a My Number Card at all.
var (
	AIDCardFaceInput = []byte{0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04, 0x08} // 券面事項入力補助AP
	AIDCardFaceCheck = []byte{0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04, 0x02} // 券面AP
)

// Kind is what Identify found in a reader.
type Kind int

// The kinds of card.
const (
	KindNotJPKI        Kind = iota + 1 // no JPKI application, and no My Number Card application either
	KindMyNumber                       // My Number Card with both certificates
	KindMyNumberNoSign                 // My Number Card without a signature certificate (under 15)
	KindJuki                           // Juki card: JPKI present, certificates all expired
	KindAndroid                        // Android smartphone certificate (label JPKIAPGPSETOKEN)
	KindIPhone                         // iPhone smartphone certificate (label JPKIAPIOSTOKEN): not supported
	KindUnknownJPKI                    // My Number Card applications, but no JPKI AP this version knows
)

func (k Kind) String() string {
	switch k {
	case KindNotJPKI:
		return "not a JPKI card"
	case KindMyNumber:
		return "My Number Card"
	case KindMyNumberNoSign:
		return "My Number Card without a signature certificate (under 15)"
	case KindJuki:
		return "Juki card (its certificates have all expired)"
	case KindAndroid:
		return "Android smartphone certificate"
	case KindIPhone:
		return "iPhone smartphone certificate (not supported)"
	case KindUnknownJPKI:
		return "a My Number Card whose JPKI application this version does not know (a newer card generation?)"
	}
	return "unknown"
}

// Code is a stable short name of the kind, for JSON and logs.
func (k Kind) Code() string {
	switch k {
	case KindNotJPKI:
		return "not_jpki"
	case KindMyNumber:
		return "my_number"
	case KindMyNumberNoSign:
		return "my_number_no_sign"
	case KindJuki:
		return "juki"
	case KindAndroid:
		return "android_phone"
	case KindIPhone:
		return "iphone"
	case KindUnknownJPKI:
		return "my_number_unknown_jpki"
	}
	return "unknown"
}

// IPhoneNotSupported says why an iPhone smartphone certificate gets no token.
const IPhoneNotSupported = "no public evidence shows a PC reaching the iPhone smartphone certificate (JPKIAPIOSTOKEN) " +
	"through PC/SC: it lives in Apple Wallet and is used through Apple's own interfaces; this version does not support it"

// Info is what Identify reads from the JPKI AP (EF 0006 and EF 0008).
type Info struct {
	Kind        Kind
	TokenLabel  string // EF 0006 label, trailing spaces trimmed
	HasAuthCert bool
	HasSignCert bool
	// AuthCertNeedsPIN: the authentication certificate (EF 000A) answers 69 82
	// until the authentication PIN is verified (the Android smartphone
	// certificate, shared/JPKI.md §8): it cannot be listed before a login.
	AuthCertNeedsPIN bool
	// Token holds the fields of EF 0006 (a serialised CK_TOKEN_INFO).
	Token TokenInfo
	// Presence is EF 0008 as the card gave it (nil when the file is missing).
	Presence []byte
	// OtherAP is, for KindUnknownJPKI, the AID of the My Number Card
	// application that answered.
	OtherAP []byte
	// Reason is, for KindUnknownJPKI found by a card generation's own
	// identification (card.Open), why that generation cannot use the card.
	Reason string
}

// OIDs of the holder's attributes: otherName entries in the signature certificate's
// subjectAltName (shared/JPKI.md §5).
var (
	OIDHolderName       = asn1.ObjectIdentifier{1, 2, 392, 200149, 8, 5, 5, 1}
	OIDHolderNameAlt    = asn1.ObjectIdentifier{1, 2, 392, 200149, 8, 5, 5, 2}
	OIDHolderSex        = asn1.ObjectIdentifier{1, 2, 392, 200149, 8, 5, 5, 3}
	OIDHolderBirth      = asn1.ObjectIdentifier{1, 2, 392, 200149, 8, 5, 5, 4}
	OIDHolderAddress    = asn1.ObjectIdentifier{1, 2, 392, 200149, 8, 5, 5, 5}
	OIDHolderAddressAlt = asn1.ObjectIdentifier{1, 2, 392, 200149, 8, 5, 5, 6}
)
