package pcsc

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/ebfe/scard"
	"github.com/jpki-pkcs11/jpki-pkcs11/card"
)

// Conn is a card.Transport: one shared connection to the card in one reader, on
// a PC/SC context of its own.
type Conn struct {
	mu     sync.Mutex
	ctx    *scard.Context
	h      *scard.Card
	reader string
	wait   time.Duration // bound on Begin (another application's transaction)
	answer time.Duration // bound on a call that waits for the card
	sys    *System       // its reader status cache is forgotten when this sees a removal or reset
	// pending is non-nil while a BeginTransaction that timed out is still
	// running, or (beginDirect) while the connection that replaces the handle it
	// gave up is being made; it is closed when that is over.
	pending chan struct{}
	// next and nextErr are the replacement connection made after beginDirect gave
	// up (h is nil until Begin takes it); written before pending is closed.
	next    *scard.Card
	nextErr error
	closed  bool
	// abandoned: a call on ctx did not come back within the bound (or the
	// System closed under it). That call still holds ctx's lock inside PC/SC,
	// so nothing touches ctx again: its goroutine disconnects and releases it
	// if the call ever returns. Every call answers card.ErrRemoved.
	abandoned bool
}

var _ card.Transport = (*Conn)(nil)

// errAbandoned is what the calls on an abandoned connection answer.
var errAbandoned = fmt.Errorf("pcsc: %w: the card stopped answering", card.ErrRemoved)

// boundedCall is one call run by Conn.bounded.
type boundedCall struct {
	done      chan error // the call's result (buffered)
	mu        sync.Mutex
	finished  bool // the call returned
	abandoned bool // the caller stopped waiting: the call's goroutine cleans up
}

// bounded runs f, a PC/SC call on the connection's context that may wait for
// the card (a command, connecting, reconnecting, disconnecting), and waits for
// it at most c.answer, or until the System closes. The call runs on a goroutine
// of its own: a call that never returns blocks that goroutine's thread, never
// the caller. Giving up abandons the connection; cleanup then runs on f's
// goroutine if f ever returns (it disconnects and releases the context). After
// the bound (not after Close), the reader is marked stuck (System.markStuck).
// Called with c.mu held.
func (c *Conn) bounded(op string, f func() error, cleanup func()) error {
	return c.boundedFor(op, c.answer, true, f, cleanup)
}

func (c *Conn) boundedFor(op string, limit time.Duration, mark bool, f func() error, cleanup func()) error {
	b := &boundedCall{done: make(chan error, 1)}
	go func() {
		err := f()
		b.mu.Lock()
		b.finished = true
		late := b.abandoned
		b.mu.Unlock()
		if late {
			cleanup()
			return
		}
		b.done <- err
	}()
	timer := time.NewTimer(limit)
	defer timer.Stop()
	var closing <-chan struct{}
	if c.sys != nil {
		closing = c.sys.closing
	}
	timedOut := false
	select {
	case err := <-b.done:
		return err
	case <-timer.C:
		timedOut = true
	case <-closing:
	}
	b.mu.Lock()
	if b.finished {
		b.mu.Unlock()
		return <-b.done // it came back meanwhile
	}
	b.abandoned = true
	b.mu.Unlock()
	c.abandoned = true
	if !timedOut {
		return fmt.Errorf("pcsc %s: %w", op, errClosed)
	}
	if mark && c.sys != nil {
		c.sys.markStuck(c.reader)
	}
	return fmt.Errorf("pcsc %s: %w (reader %q, nothing for %v)", op, card.ErrNoAnswer, c.reader, limit)
}

// release is the cleanup of an abandoned call: disconnect h, release the context.
func (c *Conn) release(h *scard.Card) func() {
	ctx := c.ctx
	return func() {
		if h != nil {
			_ = h.Disconnect(scard.LeaveCard)
		}
		_ = ctx.Release()
	}
}

// Begin starts a transaction, waiting at most the System's TransactionWait for
// another application's transaction. After a reset it reconnects, holds the
// transaction and returns card.ErrReset.
func (c *Conn) Begin() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seen(c.begin())
}

func (c *Conn) begin() error {
	if c.abandoned {
		return errAbandoned
	}
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
		if rerr := c.reconnect(); rerr != nil {
			return rerr
		}
		if err := c.beginTx(); err != nil {
			return err
		}
		return card.ErrReset
	}
	return err
}

// reconnect reconnects the handle after a reset (bounded: it waits for the reader).
func (c *Conn) reconnect() error {
	h := c.h
	return c.bounded("reconnect", func() error {
		return classify("reconnect", h.Reconnect(scard.ShareShared, scard.ProtocolAny, scard.LeaveCard))
	}, c.release(h))
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

// End ends the transaction, leaving the card as it is (pcscd does not ask the
// reader for that: it cannot wait for the card).
func (c *Conn) End() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.abandoned || c.h == nil {
		return nil
	}
	return c.seen(classify("end transaction", c.h.EndTransaction(scard.LeaveCard)))
}

// Transmit sends one APDU and waits at most the System's AnswerWait for the
// answer: a card that does not answer gives card.ErrNoAnswer and abandons the
// connection (later calls answer card.ErrRemoved; the System shows the reader
// without a card until the card is taken out). A reset seen here reconnects
// and returns card.ErrReset.
func (c *Conn) Transmit(cmd []byte) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.abandoned {
		return nil, errAbandoned
	}
	if c.closed {
		return nil, card.ErrRemoved
	}
	if c.h == nil {
		return nil, fmt.Errorf("pcsc transmit: outside a transaction: %w", card.ErrTimeout)
	}
	h := c.h
	sent := slices.Clone(cmd) // the call's own copy: the caller wipes cmd when we return
	var out []byte
	err := c.bounded("transmit", func() error {
		var err error
		out, err = h.Transmit(sent)
		card.Wipe(sent) // may hold a PIN
		return err
	}, c.release(h))
	if c.abandoned {
		return nil, err
	}
	if errors.Is(err, scard.ErrNotTransacted) {
		err = c.notTransacted(err)
	}
	if err = classify("transmit", err); errors.Is(err, card.ErrReset) {
		_ = c.reconnect()
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
// with the card still there (the error stays: a card or reader error). SCardStatus
// does not wait for the reader.
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

// Close disconnects, leaving the card as it is, and releases the connection's
// context. It waits at most closeWait for that (pcscd asks the reader when the
// last connection to it goes, which waits while another application's command
// is stuck on the reader); the rest happens in the background.
func (c *Conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	if c.sys != nil {
		c.sys.removeConn(c)
	}
	if c.abandoned {
		return nil // the call that never came back releases the context
	}
	ctx := c.ctx
	if p := c.pending; p != nil && c.h == nil {
		// the replacement connection is still being made: close it when it is
		go func() {
			<-p
			if c.next != nil {
				_ = c.next.Disconnect(scard.LeaveCard)
			}
			_ = ctx.Release()
		}()
		return nil
	}
	h := c.h
	var derr error
	err := c.boundedFor("disconnect", closeWait, false, func() error {
		if h != nil {
			derr = h.Disconnect(scard.LeaveCard)
		}
		_ = ctx.Release()
		return nil
	}, func() {})
	if err != nil {
		return nil // still disconnecting in the background
	}
	return classify("disconnect", derr)
}
