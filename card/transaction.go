// Transactions: every card operation runs inside one PC/SC transaction (Do), and
// queued operations may share one (Batch).

package card

import "errors"

// Do runs f inside one PC/SC transaction. A reset seen at Begin drops the security
// state and f still runs (on a card that has to be selected again). Inside Batch,
// f runs in the batch's transaction.
//
// The EF selected inside the AP is forgotten at the start of every transaction:
// between two transactions another application may have selected another file (a
// PIN EF, the other key), and a VERIFY or a signature sent to the EF it left
// selected would spend the wrong PIN's try or sign with the wrong key.
func (c *Card) Do(f func() error) error {
	if c.inBatch {
		return c.doBatched(f)
	}
	if err := c.begin(); err != nil {
		return err
	}
	defer c.t.End()
	return f()
}

// doBatched runs f in the batch's transaction, which the batch's first
// operation begins (so a batch that needs no APDU costs no PC/SC call).
func (c *Card) doBatched(f func() error) error {
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

// begin begins a PC/SC transaction, keeping the security state model true.
func (c *Card) begin() error {
	c.curEF = 0
	err := c.t.Begin()
	switch {
	case errors.Is(err, ErrReset):
		c.lost()
	case err != nil:
		if errors.Is(err, ErrRemoved) || errors.Is(err, ErrNoCard) || errors.Is(err, ErrServiceGone) {
			c.lost()
		}
		return err
	}
	return nil
}

// Batch runs f with one PC/SC transaction shared by the card operations f
// performs, which would otherwise each begin and end their own: with several
// threads waiting on one card, their operations run back to back without
// handing the card to PC/SC in between (two round trips to the PC/SC service
// saved per operation). The first operation that needs the card begins the
// transaction; it ends when f returns. The caller bounds how much f does, since
// other applications wait for the whole batch. When the transaction cannot
// begin, the operations after that fail with the same error without asking
// PC/SC again, as each would have alone. A transport error ends the shared
// transaction; the next operation begins a new one.
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

// endBatchTx ends the batch's transaction if one is open.
func (c *Card) endBatchTx() {
	if c.batchTx {
		c.batchTx = false
		c.t.End() // after a transport error this may fail: nothing to keep then
	}
}

// transmit sends one command and parses the answer; transport errors drop the
// security state model.
func (c *Card) transmit(cmd Command) (Response, error) {
	raw, err := cmd.Bytes()
	if err != nil {
		return Response{}, err
	}
	c.APDUs++
	out, err := c.t.Transmit(raw)
	Wipe(raw) // may hold a PIN
	if err != nil {
		c.lost()
		c.endBatchTx()
		return Response{}, err
	}
	return ParseResponse(out)
}
