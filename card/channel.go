// The transaction discipline every card generation shares: each operation runs in
// one PC/SC transaction, queued operations may share one, and what the card's
// security state model must forget is told at the right moments.

package card

import "errors"

// Channel carries one card generation's commands over a Transport inside PC/SC
// transactions. The generation (card.Card, nextgen.Card) keeps the model of the
// card's security state; Channel tells it when that model may be wrong: Forget at
// the start of every transaction (another application may have selected another
// file since our last one), Lost when the security state is gone (a reset or a
// removal seen at Begin, a transport error). A Channel is not safe for concurrent
// use: the generation's caller serialises.
type Channel struct {
	t      Transport
	forget func()
	lost   func()
	// apdus counts the command APDUs sent (for tests and benchmarks).
	apdus int

	// Batch state: inBatch while Batch runs its function; batchTx while the
	// transaction its operations share is open; batchErr is what beginning
	// that transaction failed with.
	inBatch  bool
	batchTx  bool
	batchErr error
}

// NewChannel returns a Channel over t that calls forget at the start of every
// transaction and lost whenever the card's security state is gone.
func NewChannel(t Transport, forget, lost func()) Channel {
	return Channel{t: t, forget: forget, lost: lost}
}

// Transport returns the transport the channel talks over.
func (ch *Channel) Transport() Transport { return ch.t }

// APDUs is how many command APDUs were sent.
func (ch *Channel) APDUs() int { return ch.apdus }

// Do runs f inside one PC/SC transaction. A reset seen at Begin drops the security
// state and f still runs (on a card that has to be selected again). Inside Batch,
// f runs in the batch's transaction.
//
// What the generation knows of the selected file is forgotten at the start of
// every transaction: between two transactions another application may have
// selected another file (a PIN EF, the other key), and a VERIFY or a signature
// sent to the EF it left selected would spend the wrong PIN's try or sign with the
// wrong key.
func (ch *Channel) Do(f func() error) error {
	if ch.inBatch {
		return ch.doBatched(f)
	}
	if err := ch.begin(); err != nil {
		return err
	}
	defer ch.t.End()
	return f()
}

// doBatched runs f in the batch's transaction, which the batch's first
// operation begins (so a batch that needs no APDU costs no PC/SC call).
func (ch *Channel) doBatched(f func() error) error {
	if ch.batchErr != nil {
		return ch.batchErr
	}
	if !ch.batchTx {
		if err := ch.begin(); err != nil {
			ch.batchErr = err
			return err
		}
		ch.batchTx = true
	}
	return f()
}

// begin begins a PC/SC transaction, keeping the security state model true.
func (ch *Channel) begin() error {
	ch.forget()
	err := ch.t.Begin()
	switch {
	case errors.Is(err, ErrReset):
		ch.lost()
	case err != nil:
		if errors.Is(err, ErrRemoved) || errors.Is(err, ErrNoCard) || errors.Is(err, ErrServiceGone) {
			ch.lost()
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
func (ch *Channel) Batch(f func()) {
	if ch.inBatch {
		f()
		return
	}
	ch.inBatch = true
	defer func() {
		ch.endBatchTx()
		ch.inBatch, ch.batchErr = false, nil
	}()
	f()
}

// endBatchTx ends the batch's transaction if one is open.
func (ch *Channel) endBatchTx() {
	if ch.batchTx {
		ch.batchTx = false
		ch.t.End() // after a transport error this may fail: nothing to keep then
	}
}

// Transmit sends one command and parses the answer; a transport error drops the
// security state model and ends a batch's transaction. The command's bytes are
// wiped once sent (they may hold a PIN).
func (ch *Channel) Transmit(cmd Command) (Response, error) {
	raw, err := cmd.Bytes()
	if err != nil {
		return Response{}, err
	}
	ch.apdus++
	out, err := ch.t.Transmit(raw)
	Wipe(raw)
	if err != nil {
		ch.lost()
		ch.endBatchTx()
		return Response{}, err
	}
	return ParseResponse(out)
}
