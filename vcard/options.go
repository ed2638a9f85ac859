// Package vcard emulates a My Number Card's JPKI application at the APDU level
// (shared/JPKI.md), for tests and demos: a Card answers command APDUs exactly as
// the JPKI AP does, an in-process Transport and System connect it to the card
// layer without PC/SC, and cmd/jpki-vcard serves it to a real pcscd through vpcd.
package vcard

import (
	"errors"
	"fmt"
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
		if o.Juki || o.NoPSS {
			return o, fmt.Errorf("%w: the next generation is neither a Juki card nor a card without PSS (its keys sign with ECDSA)", ErrOptions)
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
	return o, nil
}
