package card

import (
	"fmt"
	"slices"
)

// ReadHead reads the first n (1..256) bytes of ef in one transaction: enough of a
// certificate to learn its serial number without reading the whole file.
func (c *Card) ReadHead(ef uint16, n int) ([]byte, error) {
	if n < 1 || n > 256 {
		return nil, fmt.Errorf("read head of EF %04X: %d bytes (1 to 256 allowed)", ef, n)
	}
	var out []byte
	err := c.Do(func() error {
		b, err := c.readFirst(ef, n)
		if err != nil {
			return fmt.Errorf("read EF %04X head: %w", ef, c.securityErr(err))
		}
		out = b
		c.heads[ef] = slices.Clone(b)
		return nil
	})
	return out, err
}
