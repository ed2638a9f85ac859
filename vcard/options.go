// Package vcard emulates a My Number Card's JPKI application at the APDU level
// (shared/JPKI.md), for tests and demos: a Card answers command APDUs exactly as
// the JPKI AP does, an in-process Transport and System connect it to the card
// layer without PC/SC, and cmd/jpki-vcard serves it to a real pcscd through vpcd.
package vcard

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jpki-pkcs11/jpki-pkcs11/card"
)

// Options describe the card Create or NewInMemory makes. Zero values take defaults.
type Options struct {
	AuthPIN string // 4 digits; default "1234"
	SignPIN string // 6-16 of A-Z 0-9 (lower case folded); default "ABC123"
	Under15 bool   // no signature key or certificate (EF 0001/0002 missing)
	Juki    bool   // old Juki card: label JPKIAPICCTOKEN, certificates issued 2014 for 3 years
	NoPSS   bool   // a card generation without the PSS schemes (P1 04/05 answer 6A 86)
	// Generation is the card generation: GenerationCurrent ("" too) or GenerationNext.
	Generation string `json:",omitempty"`

	Name       string // holder's name; default "JPKI TARO"
	NameAlt    string // alternative form of the name; default none
	Sex        string // "1" male, "2" female, "3" not known; default "1"
	Address    string // default "東京都千代田区千代田1-1"
	AddressAlt string // default none
	Birth      time.Time
	Issued     time.Time // default: today minus 30 days (Juki: 2014-04-01)

	Latency time.Duration // delay added to every APDU (models a real card's slowness)

	// Phone makes a smartphone certificate instead of a card: PhoneAndroid
	// (token label JPKIAPGPSETOKEN; the authentication certificate EF 000A
	// answers 69 82 until the authentication PIN is verified), PhoneIOS (label
	// JPKIAPIOSTOKEN only: no evidence says how an iPhone answers, so it serves
	// to test that the module and jpki report it as not supported).
	Phone string
	// Quirks are card variations seen on real cards (see QuirkList), any
	// combination; none: the card behaves as this emulation always did.
	Quirks []string
	// EF0008 is the content of EF 0008; nil: 8F 8F 00 (00 8F 00 without a
	// signature certificate), as a real card.
	EF0008 []byte
	// TokenSerial is the serial number in EF 0006 (16 digits); Create draws a
	// random one when it is empty.
	TokenSerial string
}

// Phone kinds (Options.Phone).
const (
	PhoneAndroid = "android"
	PhoneIOS     = "ios"
)

// Quirk is a card variation seen on real cards (shared/JPKI.md §8).
type Quirk struct {
	Name string // as jpki-vcard new --quirk takes it
	Doc  string // what the card does then
}

// Quirk names.
const (
	QuirkVerify9000  = "verify-9000"
	QuirkBlocked63C0 = "blocked-63c0"
	QuirkLen6985     = "len-6985"
	QuirkNoShortEF   = "no-short-ef"
	QuirkNoJPKIAP    = "no-jpki-ap"
)

// QuirkList lists the variations Options.Quirks may name.
var QuirkList = []Quirk{
	{QuirkVerify9000, "the tries query (empty VERIFY) answers 90 00 while the PIN is verified (others: 63 Cx)"},
	{QuirkBlocked63C0, "the tries query of a blocked PIN answers 63 C0 (69 84 only when a PIN is sent)"},
	{QuirkLen6985, "a signature input of a wrong length answers 69 85 (others: 67 00)"},
	{QuirkNoShortEF, "refuses short-EF addressing (READ BINARY, signature, VERIFY) with 6A 86"},
	{QuirkNoJPKIAP, "no JPKI application (6A 82); the My Number Card's other applications answer"},
}

// Defaults used by Options.
const (
	DefaultAuthPIN = "1234"
	DefaultSignPIN = "ABC123"
	DefaultName    = "JPKI TARO"
	DefaultAddress = "東京都千代田区千代田1-1"
)

// Card generations (Options.Generation).
const (
	// GenerationCurrent is every card issued so far: the JPKI AP, RSA-2048 keys,
	// SHA-256 certificates (the default).
	GenerationCurrent = "current"
	// GenerationNext is the next generation as announced (shared/JPKI.md §7-8):
	// ECDSA P-384 keys, SHA-384 certificates valid 10 years, the same two PINs,
	// spoken to with the assumed commands of card/nextgen (no JPKI AP).
	GenerationNext = "next"
)

// ErrOptions is wrapped by every option validation error.
var ErrOptions = errors.New("virtual card options")

// withDefaults validates o and fills in the defaults; the PINs come back in the
// form the card compares (signature password folded to upper case).
func (o Options) withDefaults(now time.Time) (Options, error) {
	if o.AuthPIN == "" {
		o.AuthPIN = DefaultAuthPIN
	}
	if o.SignPIN == "" {
		o.SignPIN = DefaultSignPIN
	}
	a, err := card.CheckPIN(card.AuthKey, []byte(o.AuthPIN))
	if err != nil {
		return o, fmt.Errorf("%w: auth PIN: %w", ErrOptions, err)
	}
	o.AuthPIN = string(a)
	s, err := card.CheckPIN(card.SignKey, []byte(o.SignPIN))
	if err != nil {
		return o, fmt.Errorf("%w: sign PIN: %w", ErrOptions, err)
	}
	o.SignPIN = string(s)
	if o.Under15 && o.Juki {
		return o, fmt.Errorf("%w: a Juki card cannot be an under-15 card", ErrOptions)
	}
	switch o.Generation {
	case "", GenerationCurrent:
		o.Generation = ""
	case GenerationNext:
		if o.Juki || o.NoPSS || o.Phone != "" || len(o.Quirks) > 0 || o.EF0008 != nil {
			return o, fmt.Errorf("%w: the next generation is a card of its own: not a Juki card, a smartphone, a card without PSS (its keys sign with ECDSA), nor one with today's quirks or EF 0008", ErrOptions)
		}
	default:
		return o, fmt.Errorf("%w: generation %q (want %s or %s)", ErrOptions, o.Generation, GenerationCurrent, GenerationNext)
	}
	if o.Name == "" {
		o.Name = DefaultName
	}
	if o.Sex == "" {
		o.Sex = "1"
	}
	switch o.Sex {
	case "1", "2", "3", "9":
	default:
		return o, fmt.Errorf("%w: sex %q (want 1 male, 2 female, 3 or 9 not known)", ErrOptions, o.Sex)
	}
	if o.Address == "" {
		o.Address = DefaultAddress
	}
	if o.Birth.IsZero() {
		o.Birth = time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if o.Issued.IsZero() {
		if o.Juki {
			o.Issued = time.Date(2014, 4, 1, 0, 0, 0, 0, time.UTC)
		} else {
			d := now.UTC().AddDate(0, 0, -30)
			o.Issued = time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, time.UTC)
		}
	}
	if !o.Birth.Before(o.Issued) {
		return o, fmt.Errorf("%w: birth %s is not before the issue date %s", ErrOptions,
			o.Birth.Format(time.DateOnly), o.Issued.Format(time.DateOnly))
	}
	if o.Latency < 0 {
		return o, fmt.Errorf("%w: negative latency", ErrOptions)
	}
	switch o.Phone {
	case "", PhoneAndroid, PhoneIOS:
	default:
		return o, fmt.Errorf("%w: phone %q (want %s or %s)", ErrOptions, o.Phone, PhoneAndroid, PhoneIOS)
	}
	if o.Phone != "" && o.Juki {
		return o, fmt.Errorf("%w: a Juki card cannot be a smartphone certificate", ErrOptions)
	}
	var quirks []string
	for _, q := range o.Quirks {
		if !slices.ContainsFunc(QuirkList, func(k Quirk) bool { return k.Name == q }) {
			return o, fmt.Errorf("%w: unknown quirk %q (known: %s)", ErrOptions, q, quirkNames())
		}
		if !slices.Contains(quirks, q) {
			quirks = append(quirks, q)
		}
	}
	o.Quirks = quirks
	if o.EF0008 != nil && (len(o.EF0008) == 0 || len(o.EF0008) > 16) {
		return o, fmt.Errorf("%w: EF 0008 of %d bytes (1 to 16)", ErrOptions, len(o.EF0008))
	}
	if o.TokenSerial == "" {
		o.TokenSerial = randomDigits(16)
	}
	if len(o.TokenSerial) > 16 {
		return o, fmt.Errorf("%w: token serial %q longer than 16 characters", ErrOptions, o.TokenSerial)
	}
	return o, nil
}

// HasQuirk reports whether the options name quirk q.
func (o Options) HasQuirk(q string) bool { return slices.Contains(o.Quirks, q) }

func quirkNames() string {
	var n []string
	for _, q := range QuirkList {
		n = append(n, q.Name)
	}
	return strings.Join(n, ", ")
}
