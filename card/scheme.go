package card

import (
	"errors"
	"fmt"
)

// SupportsScheme asks whether the card knows signature scheme p1 for key k
// without signing and without a PIN: it sends the signature command with no
// data. 6A 86 (incorrect P1) means the scheme is unknown; any other answer
// (67 00 wrong length, 69 82, ...) means the card accepted P1.
func (c *Card) SupportsScheme(k Key, p1 byte) (bool, error) {
	ok := false
	err := c.Do(func() error {
		if err := c.selectEF(k.KeyFile()); err != nil {
			return err
		}
		r, err := c.transmit(Command{CLA: 0x80, INS: 0x2A, P1: p1, P2: 0x80})
		if err != nil {
			return err
		}
		if r.SW == 0x9000 {
			return fmt.Errorf("signature command with no data answered 90 00")
		}
		ok = !errors.Is(r.Err(), ErrIncorrectP1P2)
		return nil
	})
	return ok, err
}
