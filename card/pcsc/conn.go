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
	// pending is non-nil while a BeginTransaction that timed out is still
	// running; it is closed when that call returned (and its transaction ended).
	pending chan struct{}
	closed  bool
}

var _ card.Transport = (*Conn)(nil)

// Begin starts a transaction, waiting at most the System's TransactionWait for
// another application's transaction. After a reset it reconnects, holds the
// transaction and returns card.ErrReset.
func (c *Conn) Begin() error {
	c.mu.Lock()
	defer c.mu.Unlock()
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
	err := c.beginBounded()
	if errors.Is(err, card.ErrReset) {
		if rerr := classify("reconnect", c.h.Reconnect(scard.ShareShared, scard.ProtocolAny, scard.LeaveCard)); rerr != nil {
			return rerr
		}
		if err := c.beginBounded(); err != nil {
			return err
		}
		return card.ErrReset
	}
	return err
}

// beginBounded runs BeginTransaction with a bound; a call that outlives the bound
// ends its transaction as soon as it gets one.
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

// End ends the transaction, leaving the card as it is.
func (c *Conn) End() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	return classify("end transaction", c.h.EndTransaction(scard.LeaveCard))
}

// Transmit sends one APDU. A reset seen here reconnects and returns card.ErrReset.
func (c *Conn) Transmit(cmd []byte) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, card.ErrRemoved
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
		return nil, fmt.Errorf("pcsc transmit: %d-byte answer: %w", len(out), card.ErrRemoved)
	}
	return out, err
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
	return classify("disconnect", c.h.Disconnect(scard.LeaveCard))
}
