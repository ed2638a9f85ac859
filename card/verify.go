// PIN commands: tries left, VERIFY, CHANGE REFERENCE DATA, logout. The format rules
// a PIN must pass before any of these sends it are in pin.go.

package card

import "fmt"

// TriesLeft asks how many PIN tries remain for k; it costs no try (VERIFY with no
// data). A blocked PIN gives 0 and no error: cards answer 69 84 or 63 C0 to the
// empty VERIFY of a blocked PIN (shared/JPKI.md §8). Some cards answer 90 00 when
// the PIN is verified in the current security state: a good VERIFY resets the
// counter, so that is the full count (the login state is this Card's own model,
// which the answer does not change).
func (c *Card) TriesLeft(k Key) (int, error) {
	n := 0
	err := c.Do(func() error {
		if err := c.selectEF(k.PINFile()); err != nil {
			return err
		}
		r, err := c.transmit(Command{CLA: 0x00, INS: 0x20, P1: 0x00, P2: 0x80})
		if err != nil {
			return err
		}
		if r.SW == 0x9000 {
			n = k.MaxTries()
			return nil
		}
		se := StatusError(r.SW)
		if t, ok := se.TriesLeft(); ok {
			n = t
			return nil
		}
		if se == ErrRefDataBlocked || se == ErrAuthBlocked {
			n = 0
			return nil
		}
		return fmt.Errorf("tries left for the %v PIN: %w", k, se)
	})
	return n, err
}

// Verify checks the PIN for k with the card. The PIN must pass CheckPIN first;
// a malformed PIN is refused with ErrPINFormat and nothing is sent. The card's
// refusal of the PIN is a *PINError: a wrong PIN matches ErrWrongPIN and carries
// the tries left, a blocked PIN matches ErrPINBlocked. Any other failure (the
// PIN EF's SELECT, a transport error) is not about the PIN. It never retries.
func (c *Card) Verify(k Key, pin []byte) error {
	p, err := CheckPIN(k, pin)
	if err != nil {
		return err
	}
	defer Wipe(p)
	return c.Do(func() error { return c.verify(k, p) })
}

func (c *Card) verify(k Key, p []byte) error {
	if err := c.selectEF(k.PINFile()); err != nil {
		return err
	}
	c.verified[k] = false
	r, err := c.transmit(Command{CLA: 0x00, INS: 0x20, P1: 0x00, P2: 0x80, Data: p})
	if err != nil {
		return err
	}
	if err := PINAnswer(k, "verify", r); err != nil {
		return err
	}
	c.verified[k] = true
	return nil
}

// PINAnswer is the error of the answer r to a PIN command (VERIFY with a PIN,
// CHANGE REFERENCE DATA; op "verify" or "change") for k: a *PINError for 63 Cx,
// 69 83 and 69 84, the status word for anything else, nil for 90 00. Every card
// generation turns its PIN answers into errors with it.
func PINAnswer(k Key, op string, r Response) error {
	if r.SW == 0x9000 {
		return nil
	}
	se := StatusError(r.SW)
	if pinStatus(se) {
		return &PINError{Key: k, Op: op, SW: se}
	}
	return fmt.Errorf("%s %v PIN: %w", op, k, se)
}

// ChangePIN verifies oldPIN and sets newPIN for k, in one transaction. Both are
// checked by CheckPIN before anything is sent.
func (c *Card) ChangePIN(k Key, oldPIN, newPIN []byte) error {
	o, err := CheckPIN(k, oldPIN)
	if err != nil {
		return err
	}
	defer Wipe(o)
	n, err := CheckPIN(k, newPIN)
	if err != nil {
		return fmt.Errorf("new PIN: %w", err)
	}
	defer Wipe(n)
	return c.Do(func() error {
		if err := c.verify(k, o); err != nil {
			return err
		}
		r, err := c.transmit(Command{CLA: 0x00, INS: 0x24, P1: 0x01, P2: 0x80, Data: n})
		if err != nil {
			return err
		}
		return PINAnswer(k, "change", r)
	})
}

// Logout forgets the verification of k. When no other key stays verified, the AP
// is selected again so the card itself drops the security state; otherwise only
// this Card's model forgets it (the card cannot drop one PIN alone).
func (c *Card) Logout(k Key) error {
	c.verified[k] = false
	for _, v := range c.verified {
		if v {
			return nil
		}
	}
	return c.Do(func() error {
		c.selected = false
		return c.selectAP()
	})
}
