// Card generations: what the layers above (session/, the CLI) need of a card,
// whatever commands its generation speaks. Today's JPKI application (*Card,
// RSA-2048) is one implementation; the next card generation (card/nextgen,
// ECDSA P-384, commands assumed until they are published) is another.

package card

import (
	"errors"
	"fmt"
)

// Generation is one card generation's protocol on one card: identify, read a
// certificate, PIN tries, verify, change and forget a PIN, sign an input the host
// prepared. The layers above use a card only through it, so a new generation
// changes nothing above the card layer but the mechanisms its keys offer.
//
// Certificates are named by the JPKI EF of today's cards (Key.CertFile and
// Key.CACertFile: EFAuthCert, EFAuthCACert, EFSignCert, EFSignCACert): the names
// every generation answers to, mapped by a generation that keeps its certificates
// elsewhere. The signature scheme is one of the Scheme constants: SchemePKCS1 and
// SchemePSSSHA256 (RSA, over a DigestInfo or a SHA-256 hash) or SchemeECDSA (over
// a hash). PINs follow CheckPIN's rules on every generation.
//
// Like *Card, a Generation is not safe for concurrent use: the caller serialises.
type Generation interface {
	// Identify tells what kind of card this is; a card of another generation
	// (or no JPKI card at all) gives Info{Kind: KindNotJPKI} and no error.
	Identify() (Info, error)
	// Algorithm is the signature algorithm of the generation's keys (no APDU).
	Algorithm() Algorithm
	// ReadHead reads the first n (1..256) bytes of a certificate, ReadFile all of it.
	ReadHead(ef uint16, n int) ([]byte, error)
	ReadFile(ef uint16) ([]byte, error)
	// TriesLeft asks the PIN counter of k without spending a try.
	TriesLeft(k Key) (int, error)
	// Verify checks the PIN of k once (never retried); ChangePIN verifies oldPIN
	// and sets newPIN; Logout forgets k's verification; LoggedIn tells, without an
	// APDU, whether k's PIN is verified in the security state known.
	Verify(k Key, pin []byte) error
	ChangePIN(k Key, oldPIN, newPIN []byte) error
	Logout(k Key) error
	LoggedIn(k Key) bool
	// Sign signs input (prepared by the host for scheme) with k; ErrNotLoggedIn
	// without an APDU when k's PIN is not verified.
	Sign(k Key, scheme byte, input []byte) ([]byte, error)
	// ProbeScheme tells whether the card signs with scheme for k (without a PIN).
	ProbeScheme(k Key, scheme byte) (SchemeProbe, error)
	// Batch runs f with the card operations inside sharing one PC/SC transaction.
	Batch(f func())
	// Transport is the connection the generation talks over.
	Transport() Transport
}

var _ Generation = (*Card)(nil)

// SchemeECDSA is the signature scheme of ECDSA keys: the input is a hash (of at
// most MaxECDSAInput bytes, truncated by ECDSA to the curve's order), the
// signature r||s, each the curve order's byte length. It is no P1 of today's
// signature command (those are 00 to 05).
const SchemeECDSA byte = 0xEC

// MaxECDSAInput bounds the hash an ECDSA signature is made over: SHA-512's 64 bytes.
const MaxECDSAInput = 64

// Algorithm is the signature algorithm of a generation's keys.
type Algorithm int

// The algorithms of the card generations.
const (
	RSA2048   Algorithm = iota + 1 // every card issued so far: RSA-2048, e = 65537
	ECDSAP384                      // the next generation (announced): ECDSA over P-384, SHA-384
)

func (a Algorithm) String() string {
	switch a {
	case RSA2048:
		return "RSA-2048"
	case ECDSAP384:
		return "ECDSA P-384"
	}
	return "unknown algorithm"
}

// Algorithm is RSA2048: today's JPKI application.
func (c *Card) Algorithm() Algorithm { return RSA2048 }

// ErrNotYetSupported is wrapped by the errors of a card that looks like a
// generation whose commands this module does not know yet (a next-generation
// card that is not the virtual one, whose commands are only assumed). Open
// turns it into Info{Kind: KindUnknownJPKI, Reason: ...}.
var ErrNotYetSupported = errors.New("card: a card generation that is not yet supported")

// NotYetSupported says, in the words every layer reports a My Number Card
// without a JPKI application this version knows (KindUnknownJPKI), what
// follows for the card holder.
const NotYetSupported = "not yet supported: the next card generation's commands are not published"

// Open identifies the card behind t and returns the generation that speaks to
// it, with what Identify found. Today's JPKI application is asked first, so a
// card issued so far sees exactly the APDUs of (*Card).Identify. Only a card
// that has neither the JPKI application nor the My Number Card's card-face
// applications (KindNotJPKI) is asked by each of next, in order, whether it
// identifies as that generation; the first that does speaks to it from then on.
// A generation's own commands other than its identification never reach a card
// that did not identify as one. A card no generation knows gives the JPKI
// application's Card with today's Info (KindNotJPKI or KindUnknownJPKI); one
// that answers a generation's identification but is not that generation (a
// real next-generation card, while its commands are assumed) gives
// Info{Kind: KindUnknownJPKI} with the application that answered and the reason.
//
// A card with the card-face applications is KindUnknownJPKI and is not asked:
// the virtual next-generation card has only its authentication AP. When the
// real card's commands are known and it turns out to answer the card-face AIDs,
// ask next for KindUnknownJPKI too (and let card.Diagnose record it).
func Open(t Transport, next ...func(Transport) Generation) (Generation, Info, error) {
	c := New(t)
	info, err := c.Identify()
	if err != nil || info.Kind != KindNotJPKI {
		return c, info, err
	}
	if g, gi, err := identifyNext(t, next); g != nil || err != nil || gi.Kind != KindNotJPKI {
		if g == nil {
			return c, gi, err
		}
		return g, gi, err
	}
	return c, info, nil
}

// identifyNext asks each of next, in order, whether the card behind t (which has
// no JPKI AP) identifies as that generation. It returns the first generation that
// does with its Info; none and Info{Kind: KindUnknownJPKI} for a card that
// answered a generation's identification but is not a card it can speak to; none
// and Info{Kind: KindNotJPKI} when no generation knows the card.
func identifyNext(t Transport, next []func(Transport) Generation) (Generation, Info, error) {
	for _, newGen := range next {
		g := newGen(t)
		gi, err := g.Identify()
		var ns *NotYetSupportedError
		switch {
		case errors.As(err, &ns):
			return nil, Info{Kind: KindUnknownJPKI, OtherAP: ns.AID, Reason: ns.Error()}, nil
		case err != nil:
			return nil, Info{}, fmt.Errorf("identify (%v generation): %w", g.Algorithm(), err)
		case gi.Kind != KindNotJPKI:
			return g, gi, nil
		}
	}
	return nil, Info{Kind: KindNotJPKI}, nil
}

// NotYetSupportedError is a generation's Identify's answer for a card that
// answered its application but is not a card it can speak to. It matches
// ErrNotYetSupported.
type NotYetSupportedError struct {
	AID    []byte // the application that answered
	Reason string
}

func (e *NotYetSupportedError) Error() string { return e.Reason }

// Is makes a *NotYetSupportedError match ErrNotYetSupported.
func (e *NotYetSupportedError) Is(target error) bool { return target == ErrNotYetSupported }
