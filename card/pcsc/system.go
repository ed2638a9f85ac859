// Package pcsc is the card.Transport and card.System over PC/SC
// (github.com/ebfe/scard): pcsc-lite on Linux, the PC/SC framework on macOS,
// winscard.dll on Windows.
package pcsc

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/ebfe/scard"
	"github.com/jpki-pkcs11/jpki-pkcs11/card"
)

// pnpReader is the pseudo reader whose state changes when a reader is added or removed.
const pnpReader = `\\?PnP?\Notification`

// statusMu serialises every GetStatusChange of the process: ebfe/scard writes a
// package-level map in each call (scard_unix.go, "pinned"), so two concurrent
// calls crash the host with "concurrent map writes". It is the one piece of
// global state here, guarding the library's own. Calls under it never block:
// Wait polls with a zero timeout instead of waiting inside PC/SC.
var statusMu sync.Mutex

// waitPoll is how often Wait asks PC/SC for a change.
const waitPoll = 200 * time.Millisecond

// getStatusChange is GetStatusChange with a zero timeout under statusMu. changed
// is false on a timeout: no reader differs from its CurrentState, and rs was not
// updated (a timeout is not an error).
func getStatusChange(c *scard.Context, rs []scard.ReaderState) (changed bool, err error) {
	statusMu.Lock()
	defer statusMu.Unlock()
	err = c.GetStatusChange(rs, 0)
	if errors.Is(err, scard.ErrTimeout) {
		return false, nil
	}
	return err == nil, err
}

// DefaultTransactionWait bounds how long Begin waits for another application's
// transaction before it gives up with card.ErrTimeout.
const DefaultTransactionWait = 10 * time.Second

// System is a card.System on PC/SC. The PC/SC context is established on first use
// and re-established after the service went away (pcscd restarted).
type System struct {
	// inUse is held shared by every call into the context and exclusively by
	// whoever releases it, so a context is never released under a running call.
	// Lock order: inUse, then mu.
	inUse  sync.RWMutex
	mu     sync.Mutex
	ctx    *scard.Context
	closed bool
	// TransactionWait bounds Begin; zero means DefaultTransactionWait.
	TransactionWait time.Duration

	// seen caches the readers last found with a card (see statusFresh); guarded by seenMu.
	seenMu sync.Mutex
	seen   map[string]seenStatus
}

// statusFresh is how long Status answers from what it last read for a reader that
// held a card, without asking PC/SC again. A signature makes three calls that each
// check the card is still there: without this each is a round trip to pcscd (under
// statusMu), as costly as the card command. It is well below pcsc-lite's own poll
// of a reader (vpcd: 400 ms), and a removal or reset seen by the connection, a
// failed Connect or a change seen by Wait forgets it at once. An empty reader is
// never cached: an insertion shows on the next call.
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

var _ card.System = (*System)(nil)

// New returns a System; it does not talk to PC/SC until first used.
func New() (*System, error) {
	return &System{}, nil
}

// context returns the live PC/SC context, establishing it when needed.
func (s *System) context() (*scard.Context, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, fmt.Errorf("pcsc: %w: the system was closed", card.ErrServiceGone)
	}
	if s.ctx != nil {
		return s.ctx, nil
	}
	c, err := scard.EstablishContext()
	if err != nil {
		return nil, classify("establish context", err)
	}
	s.ctx = c
	return c, nil
}

// drop forgets a context that failed with a service error, so the next call
// establishes a new one.
func (s *System) drop(c *scard.Context) {
	s.inUse.Lock()
	defer s.inUse.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx == c && c != nil {
		_ = c.Release()
		s.ctx = nil
	}
}

// call runs f with the live context, once more with a fresh context if the first
// failed because the service went away (pcscd restarted since).
func (s *System) call(op string, f func(*scard.Context) error) error {
	for try := 0; ; try++ {
		s.inUse.RLock()
		c, err := s.context()
		if err != nil {
			s.inUse.RUnlock()
			return err
		}
		err = classify(op, f(c))
		s.inUse.RUnlock()
		if err == nil || !serviceGone(err) || try > 0 {
			return err
		}
		s.drop(c)
	}
}

// Readers lists the readers (sorted as PC/SC lists them); card.ErrNoReader when none.
func (s *System) Readers() ([]string, error) {
	var names []string
	err := s.call("list readers", func(c *scard.Context) error {
		var err error
		names, err = c.ListReaders()
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, card.ErrNoReader
	}
	return names, nil
}

// Status reads the readers' states without waiting and without an APDU.
func (s *System) Status(readers []string) ([]card.ReaderStatus, error) {
	if len(readers) == 0 {
		return nil, nil
	}
	if out, ok := s.cached(readers); ok {
		return out, nil
	}
	asked := time.Now()
	rs := make([]scard.ReaderState, len(readers))
	for i, r := range readers {
		rs[i] = scard.ReaderState{Reader: r, CurrentState: scard.StateUnaware}
	}
	err := s.call("status", func(c *scard.Context) error {
		_, err := getStatusChange(c, rs) // from StateUnaware: always updated
		return err
	})
	if err != nil && !errors.Is(err, card.ErrNoReader) {
		return nil, err
	}
	out := make([]card.ReaderStatus, len(readers))
	for i, r := range rs {
		out[i] = toStatus(r)
	}
	if err == nil {
		s.remember(out, asked)
	} else {
		s.forget("")
	}
	return out, nil
}

func toStatus(r scard.ReaderState) card.ReaderStatus {
	st := card.ReaderStatus{Name: r.Reader, Events: uint32(r.EventState) >> 16}
	flags := r.EventState & 0xFFFF
	st.Present = flags&scard.StatePresent != 0 && flags&(scard.StateMute|scard.StateUnavailable|scard.StateUnknown) == 0
	if st.Present {
		st.ATR = slices.Clone(r.Atr)
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

// Wait blocks until a reader's state differs from known, a reader is added or
// removed, or ctx is done. It asks PC/SC every waitPoll without blocking inside
// it (see statusMu), so it never holds up the calls of other goroutines.
func (s *System) Wait(ctx context.Context, known []card.ReaderStatus) error {
	rs := make([]scard.ReaderState, 0, len(known)+1)
	for _, k := range known {
		rs = append(rs, scard.ReaderState{Reader: k.Name, CurrentState: fromStatus(k)})
	}
	rs = append(rs, scard.ReaderState{Reader: pnpReader, CurrentState: scard.StateUnaware})
	// The first call learns the PnP pseudo reader's state; later calls wait for changes.
	for first := true; ; first = false {
		if !first {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(waitPoll):
			}
		}
		changed := false
		err := s.call("wait", func(c *scard.Context) error {
			var err error
			changed, err = getStatusChange(c, rs)
			return err
		})
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			return err
		}
		if !changed {
			continue
		}
		for i, r := range rs[:len(known)] {
			now := toStatus(r)
			if now.Present != known[i].Present || now.Events != known[i].Events || r.EventState&scard.StateUnknown != 0 {
				s.forget("")
				return nil
			}
			rs[i].CurrentState = r.EventState
		}
		pnp := &rs[len(rs)-1]
		if !first && pnp.EventState&scard.StateChanged != 0 {
			s.forget("")
			return nil
		}
		pnp.CurrentState = pnp.EventState &^ scard.StateChanged
	}
}

// Connect opens a shared connection to the card in reader.
func (s *System) Connect(reader string) (card.Transport, error) {
	var h *scard.Card
	err := s.call("connect", func(c *scard.Context) error {
		var err error
		h, err = c.Connect(reader, scard.ShareShared, scard.ProtocolAny)
		return err
	})
	if err != nil {
		s.forget(reader)
		return nil, err
	}
	wait := s.TransactionWait
	if wait == 0 {
		wait = DefaultTransactionWait
	}
	return &Conn{h: h, reader: reader, wait: wait, sys: s}, nil
}

// Close releases the PC/SC context.
func (s *System) Close() error {
	s.inUse.Lock()
	defer s.inUse.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.ctx != nil {
		err := s.ctx.Release()
		s.ctx = nil
		return classify("release", err)
	}
	return nil
}
