package card

import (
	"fmt"
)

// SchemeControlP1 is the P1 the scheme probe sends first: a value no signature
// scheme uses on any documented card (schemes are 00 to 05, shared/JPKI.md §2).
const SchemeControlP1 byte = 0x7F

// SchemeProbe is what the scheme probe learned from the card.
type SchemeProbe struct {
	// Supported: the card accepted the scheme's P1 (and refused the control).
	Supported bool
	// Conclusive is false when the card's answers cannot tell either way (then
	// Supported is false: a scheme is only ever reported when the card shows it).
	Conclusive bool
	// ControlSW and SchemeSW are the status words of the two commands
	// (SchemeSW 0 when the scheme command was not sent).
	ControlSW, SchemeSW uint16
	// Reason says in words why the scheme is or is not reported (for logs).
	Reason string
}

// p1Accepted are the answers to a signature command without data that show the
// card took P1 and then refused something else: the missing data (67 00), the
// security state (69 82), the conditions of use (69 85), the data (6A 80, 6A 87).
func p1Accepted(sw uint16) bool {
	switch StatusError(sw) {
	case ErrWrongLength, ErrSecurityStatus, ErrConditionsOfUse, ErrWrongData, 0x6A87:
		return true
	}
	return false
}

// ProbeScheme asks whether the card knows signature scheme p1 for key k, without
// a PIN and without signing: it selects the key EF and sends the signature command
// with no data, first with SchemeControlP1 (a P1 no card knows), then with p1.
//
// Only a card that checks P1 before anything else tells this way: it answers
// 6A 86 (incorrect P1) to an unknown P1 whatever the security state, so its
// answer to p1 is meaningful (6A 86: unknown; 67 00, 69 82, 69 85, 6A 80, 6A 87:
// P1 accepted, the missing data or the PIN refused). A card that checks the
// security state (or the data) first answers the control with 69 82 (or 67 00)
// as well: its answer to p1 would say nothing, so p1 is not sent and the scheme is
// not reported (Conclusive false). Any other answer is also inconclusive. The
// documented cards check P1 first (shared/JPKI.md §2: other P1 values answer
// 6A 86); the choice is conservative: a scheme is never reported that the card
// did not show, at the price of not using it on a card that hides it.
//
// A command answered 90 00 without data is not a signature (there is nothing to
// sign) but is not expected either: inconclusive. Errors are transport and
// selection errors only (removed card, missing key EF, ...).
func (c *Card) ProbeScheme(k Key, p1 byte) (SchemeProbe, error) {
	var p SchemeProbe
	err := c.Do(func() error {
		if err := c.selectEF(k.KeyFile()); err != nil {
			return fmt.Errorf("scheme probe: select %v key: %w", k, err)
		}
		ctl, err := c.transmit(Command{CLA: 0x80, INS: 0x2A, P1: SchemeControlP1, P2: 0x80})
		if err != nil {
			return fmt.Errorf("scheme probe: %w", err)
		}
		p.ControlSW = ctl.SW
		if StatusError(ctl.SW) != ErrIncorrectP1P2 {
			p.Reason = fmt.Sprintf("the card answered %04X, not 6A 86, to the unknown P1 %02X: it does not check P1 first, so a data-less command cannot tell whether it knows P1 %02X",
				ctl.SW, SchemeControlP1, p1)
			return nil
		}
		r, err := c.transmit(Command{CLA: 0x80, INS: 0x2A, P1: p1, P2: 0x80})
		if err != nil {
			return fmt.Errorf("scheme probe: %w", err)
		}
		p.SchemeSW = r.SW
		switch {
		case StatusError(r.SW) == ErrIncorrectP1P2:
			p.Conclusive = true
			p.Reason = fmt.Sprintf("the card checks P1 first and refused P1 %02X (6A 86)", p1)
		case p1Accepted(r.SW):
			p.Conclusive, p.Supported = true, true
			p.Reason = fmt.Sprintf("the card checks P1 first and accepted P1 %02X (then answered %04X)", p1, r.SW)
		default:
			p.Reason = fmt.Sprintf("unexpected answer %04X to P1 %02X without data", r.SW, p1)
		}
		return nil
	})
	return p, err
}

// SupportsScheme is ProbeScheme reduced to its verdict: true only when the card
// showed that it knows scheme p1 for key k.
func (c *Card) SupportsScheme(k Key, p1 byte) (bool, error) {
	p, err := c.ProbeScheme(k, p1)
	return p.Supported, err
}
