// Transactions: every operation runs inside one PC/SC transaction (do), and the
// operations of a Batch share one, as card.Card's do (card/transaction.go).

package nextgen

import (
	"errors"

	"github.com/jpki-pkcs11/jpki-pkcs11/card"
)

// do runs f inside one PC/SC transaction (the batch's one inside Batch). The EF
// and the key of the security environment are forgotten at its start: another
// application may have changed them since our last transaction. A reset seen at
// Begin drops the security state and f still runs.
func (c *Card) do(f func() error) error {
	if c.inBatch {
		if c.batchErr != nil {
			return c.batchErr
		}
		if !c.batchTx {
			if err := c.begin(); err != nil {
				c.batchErr = err
				return err
			}
			c.batchTx = true
		}
		return f()
	}
	if err := c.begin(); err != nil {
		return err
	}
	defer c.t.End()
	return f()
}

func (c *Card) begin() error {
	c.curEF, c.keyRef = 0, 0
	err := c.t.Begin()
	switch {
	case errors.Is(err, card.ErrReset):
		c.lost()
	case err != nil:
		if errors.Is(err, card.ErrRemoved) || errors.Is(err, card.ErrNoCard) || errors.Is(err, card.ErrServiceGone) {
			c.lost()
		}
		return err
	}
	return nil
}

// Batch runs f with one PC/SC transaction shared by the operations f performs,
// begun by the first that needs the card and ended when f returns; see
// card.Card.Batch.
func (c *Card) Batch(f func()) {
	if c.inBatch {
		f()
		return
	}
	c.inBatch = true
	defer func() {
		c.endBatchTx()
		c.inBatch, c.batchErr = false, nil
	}()
	f()
}

func (c *Card) endBatchTx() {
	if c.batchTx {
		c.batchTx = false
		c.t.End()
	}
}

// transmit sends one command and parses the answer; a transport error drops the
// security state model and ends a batch's transaction.
func (c *Card) transmit(cmd card.Command) (card.Response, error) {
	raw, err := cmd.Bytes()
	if err != nil {
		return card.Response{}, err
	}
	c.APDUs++
	out, err := c.t.Transmit(raw)
	card.Wipe(raw) // may hold a PIN
	if err != nil {
		c.lost()
		c.endBatchTx()
		return card.Response{}, err
	}
	return card.ParseResponse(out)
}
