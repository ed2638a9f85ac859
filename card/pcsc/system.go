// Package pcsc is the card.Transport and card.System over PC/SC: pcsc-lite on
// Linux, the PC/SC framework on macOS, winscard.dll on Windows. Card
// connections go through github.com/ebfe/scard; the reader-state calls
// (listing readers, SCardGetStatusChange) through a small binding of this
// package's own (raw_unix.go, raw_windows.go), because ebfe/scard's
// GetStatusChange cannot run beside another one or block safely.
package pcsc

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ebfe/scard"
	"github.com/jpki-pkcs11/jpki-pkcs11/card"
)

// pnpReader is the pseudo reader whose state changes when a reader is added or removed.
const pnpReader = `\\?PnP?\Notification`

// infinite is SCardGetStatusChange's timeout for "no timeout".
const infinite = 0xFFFFFFFF

// readerState is one reader of a status change call: current (what the caller
// knows) goes in, event and atr come out.
type readerState struct {
	name    string
	current scard.StateFlag
	event   scard.StateFlag
	atr     []byte
}

// DefaultTransactionWait bounds how long Begin waits for another application's
// transaction before it gives up with card.ErrTimeout.
const DefaultTransactionWait = 10 * time.Second

// DefaultAnswerWait bounds how long a call that waits for the card (a command,
// connecting, reconnecting) waits for its answer before it gives up with
// card.ErrNoAnswer. The slowest real command is a signature on a contactless
// reader (the card computes RSA-2048 on the field's power: about 1 to 3 s);
// this is five times that.
const DefaultAnswerWait = 15 * time.Second

// closeWait bounds how long Close waits for a disconnect (it only waits for the
// card when the reader is stuck in another application's command).
const closeWait = time.Second

// cancelRetry is how often an interrupted Wait's SCardCancel is repeated until
// the wait returns: pcsc-lite ignores a cancel that comes before the call is
// waiting in pcscd.
const cancelRetry = 10 * time.Millisecond

// System is a card.System on PC/SC. Use New.
//
// PC/SC contexts (each is one connection to the service; pcsc-lite runs every
// call on a context under that context's lock, so a call that waits holds up
// the others on the same context):
//   - the status context, for Readers and Status (calls that never wait),
//     established on first use and again after the service went away;
//   - one waiter context per Wait in progress (kept for the next Wait): it
//     blocks in SCardGetStatusChange with no timeout on the caller's thread,
//     until a reader changes or SCardCancel wakes it;
//   - one context per connection (Conn), for its card calls. A connection whose
//     card does not answer is abandoned with its context, which is never used
//     again (the call that never came back holds its lock).
type System struct {
	// TransactionWait bounds Begin; zero means DefaultTransactionWait.
	TransactionWait time.Duration
	// AnswerWait bounds every call that waits for the card; zero means
	// DefaultAnswerWait.
	AnswerWait time.Duration

	// inUse is held shared by every call on the status context and exclusively
	// by whoever releases it, so it is never released under a running call
	// (pcsc-lite frees a context's lock while a waiting call would take it).
	// Lock order: inUse, then mu.
	inUse sync.RWMutex

	mu        sync.Mutex
	status    rawContext
	hasStatus bool
	closed    bool
	closing   chan struct{}      // closed by Close: card calls in flight give up
	idle      []rawContext       // waiter contexts between two Waits
	waits     map[*waitCall]bool // Waits in progress
	stuck     map[string]uint32  // readers whose card stopped answering -> PC/SC event counter then
	listed    []string           // the readers Readers found last (hasListed: it was called)
	hasListed bool
	conns     map[*Conn]bool // connections not closed yet

	// seen caches the readers last found with a card (see statusFresh); guarded by seenMu.
	seenMu sync.Mutex
	seen   map[string]seenStatus
}

var _ card.System = (*System)(nil)

// New returns a System; it does not talk to PC/SC until first used.
func New() (*System, error) {
	return &System{closing: make(chan struct{}), waits: map[*waitCall]bool{}, stuck: map[string]uint32{},
		conns: map[*Conn]bool{}}, nil
}

func (s *System) answerWait() time.Duration {
	if s.AnswerWait > 0 {
		return s.AnswerWait
	}
	return DefaultAnswerWait
}

func (s *System) transactionWait() time.Duration {
	if s.TransactionWait > 0 {
		return s.TransactionWait
	}
	return DefaultTransactionWait
}

var errClosed = fmt.Errorf("pcsc: %w: the system was closed", card.ErrServiceGone)

// statusCtx returns the live status context, establishing it when needed.
func (s *System) statusCtx() (rawContext, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, errClosed
	}
	if s.hasStatus {
		return s.status, nil
	}
	c, err := establishRaw()
	if err != nil {
		return 0, classify("establish context", err)
	}
	s.status, s.hasStatus = c, true
	return c, nil
}

// dropStatus forgets a status context that failed with a service error, so the
// next call establishes a new one. The service went away: its event counters
// start again, so the readers marked stuck are forgotten too.
func (s *System) dropStatus(c rawContext) {
	s.inUse.Lock()
	defer s.inUse.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hasStatus && s.status == c {
		_ = c.release()
		s.hasStatus = false
		clear(s.stuck)
	}
}

// call runs f with the live status context, once more with a fresh context if
// the first failed because the service went away (pcscd restarted since).
func (s *System) call(op string, f func(rawContext) error) error {
	for try := 0; ; try++ {
		s.inUse.RLock()
		c, err := s.statusCtx()
		if err != nil {
			s.inUse.RUnlock()
			return err
		}
		err = classify(op, f(c))
		s.inUse.RUnlock()
		if err == nil || !serviceGone(err) || try > 0 {
			return err
		}
		s.dropStatus(c)
	}
}

// Readers lists the readers (sorted as PC/SC lists them); card.ErrNoReader when none.
func (s *System) Readers() ([]string, error) {
	var names []string
	err := s.call("list readers", func(c rawContext) error {
		var err error
		names, err = c.listReaders()
		return err
	})
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.listed, s.hasListed = slices.Clone(names), true
	s.mu.Unlock()
	if len(names) == 0 {
		return nil, card.ErrNoReader
	}
	return names, nil
}

// statusFresh is how long Status answers from what it last read for a reader that
// held a card, without asking PC/SC again. A signature makes three calls that each
// check the card is still there: without this each is a round trip to pcscd,
// as costly as the card command. It is well below pcsc-lite's own poll of a
// reader (vpcd: 400 ms), and a removal or reset seen by the connection, a failed
// Connect, a card that stopped answering or a change seen by Wait forgets it at
// once. An empty reader is never cached: an insertion shows on the next call.
const statusFresh = 50 * time.Millisecond

// seenStatus is one cached reader status and when PC/SC said so.
type seenStatus struct {
	st card.ReaderStatus
	at time.Time
}

// cached returns the statuses of readers when every one is fresh in the cache.
func (s *System) cached(readers []string) ([]card.ReaderStatus, bool) {
	s.seenMu.Lock()
	defer s.seenMu.Unlock()
	now := time.Now()
	out := make([]card.ReaderStatus, len(readers))
	for i, r := range readers {
		e, ok := s.seen[r]
		if !ok || now.Sub(e.at) >= statusFresh || now.Before(e.at) {
			return nil, false
		}
		out[i] = e.st
		out[i].ATR = slices.Clone(e.st.ATR)
	}
	return out, true
}

// remember caches the statuses read at t (readers with a card only).
func (s *System) remember(sts []card.ReaderStatus, t time.Time) {
	s.seenMu.Lock()
	defer s.seenMu.Unlock()
	if s.seen == nil {
		s.seen = map[string]seenStatus{}
	}
	for _, st := range sts {
		if st.Present {
			s.seen[st.Name] = seenStatus{st: st, at: t}
		} else {
			delete(s.seen, st.Name)
		}
	}
}

// forget drops the cached status of reader ("" for all).
func (s *System) forget(reader string) {
	s.seenMu.Lock()
	defer s.seenMu.Unlock()
	if reader == "" {
		clear(s.seen)
	} else {
		delete(s.seen, reader)
	}
}

// Status reads the readers' states without waiting and without an APDU. A
// reader whose card stopped answering shows no card until PC/SC reports a new
// event on it (the card taken out, a card put in).
func (s *System) Status(readers []string) ([]card.ReaderStatus, error) {
	if len(readers) == 0 {
		return nil, nil
	}
	if out, ok := s.cached(readers); ok {
		return out, nil
	}
	asked := time.Now()
	rs := make([]readerState, len(readers))
	for i, r := range readers {
		rs[i] = readerState{name: r, current: scard.StateUnaware}
	}
	err := s.call("status", func(c rawContext) error {
		err := c.statusChange(0, rs) // from StateUnaware: always updated
		if errors.Is(err, scard.ErrTimeout) {
			return nil
		}
		return err
	})
	if err != nil && !errors.Is(err, card.ErrNoReader) {
		return nil, err
	}
	out := make([]card.ReaderStatus, len(readers))
	for i, r := range rs {
		out[i] = s.view(toStatus(r))
	}
	if err == nil {
		s.remember(out, asked)
	} else {
		s.forget("")
	}
	return out, nil
}

// view is st as this package reports it: a card that stopped answering is not
// there while PC/SC still shows the same insertion.
func (s *System) view(st card.ReaderStatus) card.ReaderStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.stuck[st.Name]
	switch {
	case !ok:
	case st.Present && st.Events == e:
		st.Present, st.ATR = false, nil
	default:
		delete(s.stuck, st.Name) // taken out, or a new insertion: the reader is usable again
	}
	return st
}

func toStatus(r readerState) card.ReaderStatus {
	st := card.ReaderStatus{Name: r.name, Events: uint32(r.event) >> 16}
	flags := r.event & 0xFFFF
	st.Present = flags&scard.StatePresent != 0 && flags&(scard.StateMute|scard.StateUnavailable|scard.StateUnknown) == 0
	if st.Present {
		st.ATR = slices.Clone(r.atr)
	}
	return st
}

func fromStatus(st card.ReaderStatus) scard.StateFlag {
	f := scard.StateEmpty
	if st.Present {
		f = scard.StatePresent
	}
	return f | scard.StateFlag(st.Events)<<16
}

// waitCall is one Wait blocked (or about to block) in PC/SC on its waiter context.
type waitCall struct {
	ctx     rawContext
	stop    atomic.Bool   // set by interrupt: the wait must return
	done    chan struct{} // closed when the wait has returned
	discard bool          // the context failed: release it instead of keeping it
}

// startWait takes a waiter context (a kept one, or a new one) for a Wait.
func (s *System) startWait() (*waitCall, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, errClosed
	}
	w := &waitCall{done: make(chan struct{})}
	if n := len(s.idle); n > 0 {
		w.ctx, s.idle = s.idle[n-1], s.idle[:n-1]
		s.waits[w] = true
		s.mu.Unlock()
		return w, nil
	}
	s.mu.Unlock()
	c, err := establishRaw()
	if err != nil {
		return nil, classify("establish context", err)
	}
	w.ctx = c
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		_ = c.release()
		return nil, errClosed
	}
	s.waits[w] = true
	return w, nil
}

// endWait ends w: interrupters stop, and its context is kept for the next Wait
// (released when the System is closed or the context failed).
func (s *System) endWait(w *waitCall) {
	close(w.done)
	s.mu.Lock()
	delete(s.waits, w)
	keep := !s.closed && !w.discard
	if keep {
		s.idle = append(s.idle, w.ctx)
	}
	s.mu.Unlock()
	if !keep {
		_ = w.ctx.release()
	}
}

// interrupt makes w return: SCardCancel on its context, repeated until the wait
// has returned (pcsc-lite drops a cancel that arrives before the call waits in
// pcscd). It runs off the waiting thread (context.AfterFunc, Close, markStuck).
func (s *System) interrupt(w *waitCall) {
	if w.stop.Swap(true) {
		return // another interrupter is at it
	}
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-w.done:
			return
		case <-t.C:
		}
		_ = w.ctx.cancel()
		t.Reset(cancelRetry)
	}
}

// Wait blocks until a reader's state differs from known (in this package's
// view: see Status), a reader is added or removed, a card stops answering, or
// ctx is done (ctx.Err()). It blocks inside PC/SC on the calling thread (one
// SCardGetStatusChange with no timeout on a waiter context of its own), so
// while nothing changes it makes no request and no wake-up; pcsc-lite's
// client renews the wait once a minute. A cancelled ctx or Close wakes it with
// SCardCancel.
func (s *System) Wait(ctx context.Context, known []card.ReaderStatus) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if changed, err := s.readersDiffer(); err != nil || changed {
		return err
	}
	w, err := s.startWait()
	if err != nil {
		return err
	}
	defer s.endWait(w)
	stop := context.AfterFunc(ctx, func() { s.interrupt(w) })
	defer stop()
	rs := make([]readerState, 0, len(known)+1)
	for _, k := range known {
		rs = append(rs, readerState{name: k.Name, current: fromStatus(k)})
	}
	rs = append(rs, readerState{name: pnpReader, current: scard.StateUnaware})
	for first := true; !w.stop.Load(); first = false {
		err := w.ctx.statusChange(infinite, rs)
		switch {
		case w.stop.Load():
			continue // interrupted: see below
		case errors.Is(err, scard.ErrCancelled), errors.Is(err, scard.ErrTimeout):
			continue // a stray cancel, or pcsc-lite's renewal
		case errors.Is(err, scard.ErrUnknownReader):
			s.forget("")
			return nil // a known reader went away
		case err != nil:
			err = classify("wait", err)
			w.discard = serviceGone(err)
			return err
		}
		changed := false
		for i, k := range known {
			now := s.view(toStatus(rs[i]))
			if now.Present != k.Present || now.Events != k.Events || rs[i].event&scard.StateUnknown != 0 {
				changed = true
			}
			rs[i].current = rs[i].event &^ scard.StateChanged
		}
		pnp := &rs[len(rs)-1]
		if pnp.event&scard.StateChanged != 0 {
			if !first {
				changed = true
			} else if differ, err := s.readersDiffer(); err != nil || differ {
				// the first answer tells the reader count (Windows answers it at
				// once): a change only when the readers differ from known
				return err
			}
		}
		pnp.current = pnp.event &^ scard.StateChanged
		if changed {
			s.forget("")
			return nil
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.isClosed() {
		return errClosed
	}
	return nil // woken by markStuck: a reader's state changed in this package's view
}

// readersDiffer reports whether a reader was added or removed since Readers
// last listed them, so that Wait does not sleep through a change made just
// before it (the caller lists the readers, then waits).
func (s *System) readersDiffer() (bool, error) {
	s.mu.Lock()
	prev, ok := s.listed, s.hasListed
	s.mu.Unlock()
	names, err := s.Readers()
	if err != nil && !errors.Is(err, card.ErrNoReader) {
		return false, err
	}
	if !ok {
		return false, nil // nothing listed before: nothing to compare
	}
	if len(names) != len(prev) {
		s.forget("")
		return true, nil
	}
	for _, n := range prev {
		if !slices.Contains(names, n) {
			s.forget("")
			return true, nil
		}
	}
	return false, nil
}

func (s *System) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// markStuck records that the card in reader stopped answering: Status shows no
// card there until PC/SC reports a new event on the reader (its state stays
// frozen while the reader's driver waits for the card), and the Waits in
// progress return so that their callers see it.
func (s *System) markStuck(reader string) {
	rs := []readerState{{name: reader, current: scard.StateUnaware}}
	err := s.call("status", func(c rawContext) error { return c.statusChange(0, rs) })
	st := toStatus(rs[0])
	var ws []*waitCall
	s.mu.Lock()
	if err == nil && st.Present && !s.closed {
		s.stuck[reader] = st.Events
		for w := range s.waits {
			ws = append(ws, w)
		}
	}
	s.mu.Unlock()
	s.forget(reader)
	for _, w := range ws {
		go s.interrupt(w)
	}
}

// stuckReader reports whether reader's card stopped answering (same insertion).
func (s *System) stuckReader(reader string) bool {
	st, err := s.Status([]string{reader})
	if err != nil || len(st) != 1 {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.stuck[reader]
	return ok
}

// Connect opens a shared connection to the card in reader, on a PC/SC context
// of its own (bounded like a card command: connecting waits for the reader).
func (s *System) Connect(reader string) (card.Transport, error) {
	if s.stuckReader(reader) {
		return nil, fmt.Errorf("pcsc connect %q: %w: its card stopped answering (take it out and put it back)", reader, card.ErrNoCard)
	}
	ctx, err := scard.EstablishContext()
	if err != nil {
		return nil, classify("establish context", err)
	}
	c := &Conn{ctx: ctx, reader: reader, wait: s.transactionWait(), answer: s.answerWait(), sys: s}
	var h *scard.Card
	err = c.bounded("connect", func() error {
		var err error
		h, err = ctx.Connect(reader, scard.ShareShared, scard.ProtocolAny)
		return classify("connect", err)
	}, func() {
		if h != nil {
			_ = h.Disconnect(scard.LeaveCard)
		}
		_ = ctx.Release()
	})
	if err == nil && !s.addConn(c) {
		err = errClosed
		_ = h.Disconnect(scard.LeaveCard)
	}
	if err != nil {
		s.forget(reader)
		if !c.abandoned {
			_ = ctx.Release()
		}
		return nil, err
	}
	c.h = h
	return c, nil
}

func (s *System) addConn(c *Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = true
	return true
}

func (s *System) removeConn(c *Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// Close releases the PC/SC contexts: it wakes the Waits in progress, makes the
// card calls in flight give up (they answer card.ErrServiceGone), closes the
// connections still open (without waiting for a card) and never touches the
// context of an abandoned connection.
func (s *System) Close() error {
	s.inUse.Lock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.inUse.Unlock()
		return nil
	}
	s.closed = true
	if s.closing != nil {
		close(s.closing)
	}
	var err error
	if s.hasStatus {
		err = classify("release", s.status.release())
		s.hasStatus = false
	}
	idle := s.idle
	s.idle = nil
	var ws []*waitCall
	for w := range s.waits {
		ws = append(ws, w)
	}
	var cs []*Conn
	for c := range s.conns {
		cs = append(cs, c)
	}
	s.mu.Unlock()
	s.inUse.Unlock()
	for _, c := range idle {
		_ = c.release()
	}
	for _, w := range ws {
		go s.interrupt(w) // its Wait releases the context when it returns
	}
	for _, c := range cs {
		go c.Close() // after the call in flight on it gave up
	}
	return err
}
