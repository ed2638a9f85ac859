package card

import "errors"

// ErrNotLoggedIn is returned by Sign when the key's PIN is not verified in the
// card's current security state (never verified, logged out, or lost to a reset or
// to another application selecting the AP). No signature APDU is sent in that case,
// except when the card itself answers 69 82, which is reported the same way.
var ErrNotLoggedIn = errors.New("card: PIN not verified for this key (login lost or never done)")

// ErrNoJPKI is returned when the card has no JPKI application.
var ErrNoJPKI = errors.New("card: no JPKI application on this card")

// MaxFileSize bounds any file read: offsets are 15 bits.
const MaxFileSize = 0x7FFF

// Card speaks the JPKI protocol to one card over a Transport. It keeps a model of
// the card's security state (AP selected, current EF, verified PINs) so it sends no
// APDU it does not need. A Card is not safe for concurrent use: the caller
// serialises (session/ holds one lock per card).
type Card struct {
	ch       Channel // transactions, batches, the APDU count
	selected bool    // JPKI AP selected since the last reset
	curEF    uint16  // EF selected inside the AP, 0 when unknown
	verified map[Key]bool
	epoch    uint64 // bumped every time the security state is lost
	noSFI    bool   // the card refused short-EF addressing: READ BINARY after SELECT only
	noSFISig bool   // the card refused a short EF in the signature command (or in READ BINARY): SELECT first
	// sfiReadOK and sfiSignOK: the card answered 90 00 to a short-EF READ
	// BINARY, to a signature command naming the key by short EF
	sfiReadOK, sfiSignOK bool
	sfiSignRefused       bool // a short-EF signature command failed where SELECT then signed
	// heads caches the first bytes of files read by ReadHead, so that ReadFile
	// continues where ReadHead stopped. Files do not change while the card is in.
	heads map[uint16][]byte
}

// New returns a Card over t. Nothing is sent until the first operation.
func New(t Transport) *Card {
	c := &Card{verified: map[Key]bool{}, heads: map[uint16][]byte{}}
	c.ch = NewChannel(t, func() { c.curEF = 0 }, c.lost)
	return c
}

// Do runs f inside one PC/SC transaction (Channel.Do: inside Batch, the batch's).
func (c *Card) Do(f func() error) error { return c.ch.Do(f) }

// Batch runs f with one PC/SC transaction shared by the card operations f
// performs (Channel.Batch).
func (c *Card) Batch(f func()) { c.ch.Batch(f) }

// APDUs is how many command APDUs this Card sent (for tests and benchmarks).
func (c *Card) APDUs() int { return c.ch.APDUs() }

// transmit sends one command (Channel.Transmit).
func (c *Card) transmit(cmd Command) (Response, error) { return c.ch.Transmit(cmd) }

// Transport returns the transport the card talks over.
func (c *Card) Transport() Transport { return c.ch.Transport() }

// Epoch changes every time the card's security state is lost (reset, AP
// reselected). It lets a caller tell whether a login it saw still holds.
func (c *Card) Epoch() uint64 { return c.epoch }

// LoggedIn reports, without an APDU, whether the PIN of k is verified in the
// security state this Card knows of.
func (c *Card) LoggedIn(k Key) bool { return c.verified[k] }

// Verdict is what a Card learned about one way of addressing the card.
type Verdict int

// The verdicts.
const (
	VerdictUnknown  Verdict = iota // not tried yet (or the answer told nothing)
	VerdictAccepted                // the card answered it with 90 00
	VerdictRefused                 // the card refused it; this Card no longer uses it
)

func (v Verdict) String() string {
	switch v {
	case VerdictAccepted:
		return "accepted"
	case VerdictRefused:
		return "refused"
	}
	return "not known"
}

// Addressing is what a Card learned, from the answers so far, about the card's
// short-EF addressing (shared/JPKI.md §2): in READ BINARY (P1 = 80|SFI) and in
// the signature command (P2 = 80|SFI).
type Addressing struct {
	ShortEFRead, ShortEFSign Verdict
}

// Addressing reports what this Card learned about short-EF addressing (no APDU).
func (c *Card) Addressing() Addressing {
	v := func(ok, refused bool) Verdict {
		switch {
		case refused:
			return VerdictRefused
		case ok:
			return VerdictAccepted
		}
		return VerdictUnknown
	}
	return Addressing{ShortEFRead: v(c.sfiReadOK, c.noSFI), ShortEFSign: v(c.sfiSignOK, c.sfiSignRefused)}
}

func (c *Card) lost() {
	c.selected = false
	c.curEF = 0
	clear(c.verified)
	c.epoch++
}

// IsNotLoggedIn reports whether err means the key's PIN is not verified now.
func IsNotLoggedIn(err error) bool { return errors.Is(err, ErrNotLoggedIn) }
