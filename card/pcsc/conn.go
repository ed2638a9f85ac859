package pcsc

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ebfe/scard"
	"github.com/jpki-pkcs11/jpki-pkcs11/card"
)

// Conn is a card.Transport: one shared connection to the card in one reader.
type Conn struct {
	mu     sync.Mutex
	h      *scard.Card
	reader string
	wait   time.Duration
	sys    *System // its reader status cache is forgotten when this sees a removal or reset
	// pending is non-nil while a BeginTransaction that timed out is still
	// running, or (beginDirect) while the connection that replaces the handle it
	// gave up is being made; it is closed when that is over.
	pending chan struct{}
	// next and nextErr are the replacement connection made after beginDirect gave
	// up (h is nil until Begin takes it); written before pending is closed.
	next    *scard.Card
	nextErr error
	closed  bool
}

var _ card.Transport = (*Conn)(nil)

// Begin starts a transaction, waiting at most the System's TransactionWait for
// another application's transaction. After a reset it reconnects, holds the
// transaction and returns card.ErrReset.
func (c *Conn) Begin() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seen(c.begin())
}

func (c *Conn) begin() error {
	if c.closed {
		return card.ErrRemoved
	}
	if c.pending != nil {
		select {
		case <-c.pending:
			c.pending = nil
		case <-time.After(c.wait):
			return classify("begin transaction", scard.ErrTimeout)
		}
	}
	if c.h == nil {
		// beginDirect gave up its handle: take the connection made since
		if c.nextErr != nil {
			return c.nextErr
		}
		c.h, c.next = c.next, nil
	}
	err := c.beginTx()
	if errors.Is(err, card.ErrReset) {
		if rerr := classify("reconnect", c.h.Reconnect(scard.ShareShared, scard.ProtocolAny, scard.LeaveCard)); rerr != nil {
			return rerr
		}
		if err := c.beginTx(); err != nil {
			return err
		}
		return card.ErrReset
	}
	return err
}

// beginBounded runs BeginTransaction with a bound; a call that outlives the bound
// ends its transaction as soon as it gets one. It runs the call on its own
// goroutine, so the caller can give up while PC/SC still waits.
func (c *Conn) beginBounded() error {
	done := make(chan error, 1)
	finished := make(chan struct{})
	h := c.h
	timedOut := make(chan struct{})
	go func() {
		defer close(finished)
		err := h.BeginTransaction()
		select {
		case <-timedOut:
			if err == nil {
				_ = h.EndTransaction(scard.LeaveCard)
			}
		default:
		}
		done <- err
	}()
	select {
	case err := <-done:
		return classify("begin transaction", err)
	case <-time.After(c.wait):
		close(timedOut)
		// the goroutine may have finished between the timer and close: check once more
		select {
		case err := <-done:
			if err == nil {
				_ = h.EndTransaction(scard.LeaveCard)
			}
			return classify("begin transaction", scard.ErrTimeout)
		default:
		}
		c.pending = finished
		return classify("begin transaction", scard.ErrTimeout)
	}
}

// seen forgets the System's cached reader status when err says the card left or
// was reset, so the next Status asks PC/SC; it returns err.
func (c *Conn) seen(err error) error {
	if err != nil && c.sys != nil && (errors.Is(err, card.ErrRemoved) || errors.Is(err, card.ErrReset) || errors.Is(err, card.ErrNoReader)) {
		c.sys.forget(c.reader)
	}
	return err
}

// End ends the transaction, leaving the card as it is.
func (c *Conn) End() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.h == nil {
		return nil
	}
	return c.seen(classify("end transaction", c.h.EndTransaction(scard.LeaveCard)))
}

// Transmit sends one APDU. A reset seen here reconnects and returns card.ErrReset.
func (c *Conn) Transmit(cmd []byte) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, card.ErrRemoved
	}
	if c.h == nil {
		return nil, fmt.Errorf("pcsc transmit: outside a transaction: %w", card.ErrTimeout)
	}
	out, err := c.h.Transmit(cmd)
	if errors.Is(err, scard.ErrNotTransacted) {
		err = c.notTransacted(err)
	}
	if err = classify("transmit", err); errors.Is(err, card.ErrReset) {
		_ = c.h.Reconnect(scard.ShareShared, scard.ProtocolAny, scard.LeaveCard)
	}
	if err == nil && len(out) < 2 {
		// pcscd with vpcd answers success and no bytes when the card leaves mid-command.
		return nil, c.seen(fmt.Errorf("pcsc transmit: %d-byte answer: %w", len(out), card.ErrRemoved))
	}
	return out, c.seen(err)
}

// notTransacted tells why a command was not transacted. pcsc-lite answers
// SCARD_E_NOT_TRANSACTED when the card left the reader during the command, but its
// reader state says "present" until its next poll of the reader (vpcd: 0.4 s). So
// the handle's status is asked until it shows the card gone (the error becomes a
// removal, or whatever the status call answers) or notTransactedSettle has passed
// with the card still there (the error stays: a card or reader error).
func (c *Conn) notTransacted(err error) error {
	deadline := time.Now().Add(notTransactedSettle)
	for {
		st, serr := c.h.Status()
		if serr != nil {
			return fmt.Errorf("%w (status after %w)", serr, err) // classify sees serr first
		}
		if st.State&scard.Present == 0 || st.State&scard.Absent != 0 {
			return fmt.Errorf("%w (card absent after %w)", scard.ErrRemovedCard, err)
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// notTransactedSettle bounds how long notTransacted waits for PC/SC to notice a
// removal (a few of pcsc-lite's reader polls).
const notTransactedSettle = 1500 * time.Millisecond

// Close disconnects, leaving the card as it is.
func (c *Conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	if p := c.pending; p != nil && c.h == nil {
		// the replacement connection is still being made: close it when it is
		go func() {
			<-p
			if c.next != nil {
				_ = c.next.Disconnect(scard.LeaveCard)
			}
		}()
	}
	if c.h == nil {
		return nil
	}
	return classify("disconnect", c.h.Disconnect(scard.LeaveCard))
}
