package certinfo

import (
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"

	"github.com/jpki-pkcs11/jpki-pkcs11/card"
)

// oidSAN is the subjectAltName extension.
var oidSAN = asn1.ObjectIdentifier{2, 5, 29, 17}

// Holder is the card holder's data decoded from the signature certificate.
// Raw values are kept as they are in the certificate; Sex and Birth are decoded.
type Holder struct {
	Name       string `json:"name"`
	NameAlt    string `json:"name_alt,omitempty"`
	Sex        string `json:"sex"`      // decoded: "male", "female", or "code X"
	SexCode    string `json:"sex_code"` // as in the certificate
	Birth      string `json:"birth"`    // YYYY-MM-DD when decodable, else the raw value
	BirthRaw   string `json:"birth_raw"`
	BirthEra   string `json:"birth_era,omitempty"` // Japanese era of the birth date, when given
	Address    string `json:"address"`
	AddressAlt string `json:"address_alt,omitempty"`
}

// Empty reports whether no holder attribute was found.
func (h Holder) Empty() bool {
	return h.Name == "" && h.NameAlt == "" && h.SexCode == "" && h.BirthRaw == "" && h.Address == "" && h.AddressAlt == ""
}

// HolderOf decodes the holder's attributes from c's subjectAltName. A certificate
// without them gives an empty Holder and no error; a malformed extension is an error.
func HolderOf(c *x509.Certificate) (Holder, error) {
	var h Holder
	for _, ext := range c.Extensions {
		if !ext.Id.Equal(oidSAN) {
			continue
		}
		vals, err := otherNames(ext.Value)
		if err != nil {
			return Holder{}, fmt.Errorf("subjectAltName: %w", err)
		}
		for _, v := range vals {
			switch {
			case v.oid.Equal(card.OIDHolderName):
				h.Name = v.text
			case v.oid.Equal(card.OIDHolderNameAlt):
				h.NameAlt = v.text
			case v.oid.Equal(card.OIDHolderSex):
				h.SexCode = v.text
				h.Sex = decodeSex(v.text)
			case v.oid.Equal(card.OIDHolderBirth):
				h.BirthRaw = v.text
				h.Birth, h.BirthEra = decodeBirth(v.text)
			case v.oid.Equal(card.OIDHolderAddress):
				h.Address = v.text
			case v.oid.Equal(card.OIDHolderAddressAlt):
				h.AddressAlt = v.text
			}
		}
	}
	return h, nil
}

type otherName struct {
	oid  asn1.ObjectIdentifier
	text string
}

// otherNames returns the otherName entries of a GeneralNames value, skipping
// every other kind of name (real certificates also carry directory names).
func otherNames(der []byte) ([]otherName, error) {
	var seq asn1.RawValue
	rest, err := asn1.Unmarshal(der, &seq)
	if err != nil {
		return nil, err
	}
	if len(rest) > 0 || seq.Tag != asn1.TagSequence || seq.Class != asn1.ClassUniversal {
		return nil, errors.New("not a SEQUENCE of GeneralName")
	}
	var out []otherName
	body := seq.Bytes
	for len(body) > 0 {
		var gn asn1.RawValue
		body, err = asn1.Unmarshal(body, &gn)
		if err != nil {
			return nil, err
		}
		if gn.Class != asn1.ClassContextSpecific || gn.Tag != 0 {
			continue // not an otherName
		}
		var oid asn1.ObjectIdentifier
		r, err := asn1.Unmarshal(gn.Bytes, &oid)
		if err != nil {
			return nil, fmt.Errorf("otherName type: %w", err)
		}
		var wrapped asn1.RawValue
		if _, err := asn1.Unmarshal(r, &wrapped); err != nil {
			return nil, fmt.Errorf("otherName %v value: %w", oid, err)
		}
		if wrapped.Class != asn1.ClassContextSpecific || wrapped.Tag != 0 {
			return nil, fmt.Errorf("otherName %v: value not tagged [0]", oid)
		}
		text, err := decodeString(wrapped.Bytes)
		if err != nil {
			return nil, fmt.Errorf("otherName %v: %w", oid, err)
		}
		out = append(out, otherName{oid: oid, text: text})
	}
	return out, nil
}

// decodeString decodes one ASN.1 character string (UTF8String, PrintableString,
// IA5String, TeletexString taken as Latin-1, BMPString); other types are shown in hex.
func decodeString(der []byte) (string, error) {
	var v asn1.RawValue
	if _, err := asn1.Unmarshal(der, &v); err != nil {
		return "", err
	}
	if v.Class != asn1.ClassUniversal {
		return hex.EncodeToString(v.Bytes), nil
	}
	switch v.Tag {
	case asn1.TagUTF8String, asn1.TagPrintableString, asn1.TagIA5String, asn1.TagNumericString, asn1.TagT61String:
		return strings.ToValidUTF8(string(v.Bytes), "\uFFFD"), nil
	case asn1.TagBMPString:
		if len(v.Bytes)%2 != 0 {
			return "", errors.New("BMPString of odd length")
		}
		u := make([]uint16, len(v.Bytes)/2)
		for i := range u {
			u[i] = uint16(v.Bytes[2*i])<<8 | uint16(v.Bytes[2*i+1])
		}
		return string(utf16.Decode(u)), nil
	}
	return hex.EncodeToString(v.Bytes), nil
}

// decodeSex decodes the sex code (1 male, 2 female, 0/3/9 not known; other codes shown as given).
func decodeSex(code string) string {
	switch code {
	case "1":
		return "male"
	case "2":
		return "female"
	case "0", "3", "9":
		return "not known"
	}
	return "code " + code
}

var eras = map[byte]string{'0': "", '1': "Meiji", '2': "Taisho", '3': "Showa", '4': "Heisei", '5': "Reiwa"}

// decodeBirth decodes "EYYYYMMDD" (E: era code, then the Gregorian date) or
// "YYYYMMDD" into YYYY-MM-DD and the era's name. Anything else is returned as is.
func decodeBirth(s string) (date, era string) {
	digits := func(x string) bool {
		for _, r := range x {
			if r < '0' || r > '9' {
				return false
			}
		}
		return true
	}
	if !digits(s) {
		return s, ""
	}
	switch len(s) {
	case 9:
		era = eras[s[0]]
		s = s[1:]
	case 8:
	default:
		return s, ""
	}
	return s[0:4] + "-" + s[4:6] + "-" + s[6:8], era
}
