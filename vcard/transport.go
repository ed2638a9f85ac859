package vcard

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/jpki-pkcs11/jpki-pkcs11/card"
)

// TransactionTimeout bounds how long Begin waits for another transport's
// transaction on the same card before answering card.ErrTimeout.
const TransactionTimeout = 3 * time.Second

// Transport is an in-process card.Transport to a Card. NewTransport and
// System.Connect return it as a card.Transport; assert to *Transport to reach
// Remove, Insert and Reset.
type Transport struct {
	mu      sync.Mutex
	c       *Card
	gen     uint64 // card generation this transport last saw (a Reset changes it)
	removed bool   // card out of the reader: every call answers card.ErrRemoved
	dead    bool   // removed through the System: stays removed (like a PC/SC handle)
	inTx    bool
	closed  bool
}

var _ card.Transport = (*Transport)(nil)

// NewTransport connects to c in-process. The dynamic type is *Transport.
func NewTransport(c *Card) card.Transport {
	return &Transport{c: c, gen: c.generation()}
}

// Remove pulls the card out: Transmit and Begin answer card.ErrRemoved until Insert.
func (t *Transport) Remove() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.removed = true
	t.releaseTx()
}

// Insert puts the card back: it is power-cycled (security state lost) and the
// transport works again without reporting a reset.
func (t *Transport) Insert() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.dead {
		return
	}
	t.c.Reset()
	t.removed = false
	t.gen = t.c.generation()
}

// Reset resets the card as another application would: the card loses its
// security state and the next Begin or Transmit answers card.ErrReset.
func (t *Transport) Reset() { t.c.Reset() }

// check answers the pending condition of the transport, if any.
func (t *Transport) check() error {
	switch {
	case t.closed:
		return fmt.Errorf("virtual transport: closed: %w", card.ErrNoCard)
	case t.removed || t.dead:
		return card.ErrRemoved
	}
	if g := t.c.generation(); g != t.gen {
		t.gen = g
		return card.ErrReset
	}
	return nil
}

// Transmit sends one command APDU and returns the response with its status word.
func (t *Transport) Transmit(cmd []byte) ([]byte, error) {
	t.mu.Lock()
	if err := t.check(); err != nil {
		t.mu.Unlock()
		return nil, err
	}
	inTx := t.inTx
	t.mu.Unlock()
	if !inTx {
		// Like PC/SC: a command outside a transaction waits for another
		// transport's transaction to end.
		select {
		case t.c.tx <- struct{}{}:
			defer func() { <-t.c.tx }()
		case <-time.After(TransactionTimeout):
			return nil, card.ErrTimeout
		}
	}
	return t.c.Process(cmd), nil
}

// Begin starts an exclusive transaction on the card; see card.Transport.
func (t *Transport) Begin() error {
	t.mu.Lock()
	if err := t.check(); err != nil {
		t.mu.Unlock()
		if err == card.ErrReset {
			// The transport has reconnected: the transaction still begins.
			if e := t.acquire(); e != nil {
				return e
			}
		}
		return err
	}
	t.mu.Unlock()
	return t.acquire()
}

func (t *Transport) acquire() error {
	t.mu.Lock()
	if t.inTx {
		t.mu.Unlock()
		return nil
	}
	t.mu.Unlock()
	select {
	case t.c.tx <- struct{}{}:
	case <-time.After(TransactionTimeout):
		return card.ErrTimeout
	}
	t.mu.Lock()
	t.inTx = true
	t.mu.Unlock()
	return nil
}

// releaseTx ends the transaction if this transport holds it; t.mu is held.
func (t *Transport) releaseTx() {
	if t.inTx {
		t.inTx = false
		<-t.c.tx
	}
}

// End ends the transaction.
func (t *Transport) End() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.releaseTx()
	return nil
}

// Close disconnects (ending any transaction).
func (t *Transport) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.releaseTx()
	t.closed = true
	return nil
}

// System is an in-process card.System: named readers into which virtual cards
// are inserted and from which they are removed.
type System struct {
	mu      sync.Mutex
	readers []*reader
	changed chan struct{} // closed and replaced on every change
	closed  bool
}

type reader struct {
	name   string
	card   *Card
	events uint32
	conns  []*Transport
}

var _ card.System = (*System)(nil)

// NewSystem returns a System with no readers.
func NewSystem() *System { return &System{changed: make(chan struct{})} }

func (s *System) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *System) find(name string) *reader {
	for _, r := range s.readers {
		if r.name == name {
			return r
		}
	}
	return nil
}

// AddReader adds an empty reader (a no-op when it exists).
func (s *System) AddReader(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.find(name) != nil {
		return
	}
	s.readers = append(s.readers, &reader{name: name})
	s.notify()
}

// RemoveReader unplugs a reader, removing its card.
func (s *System) RemoveReader(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.find(name)
	if r == nil {
		return
	}
	s.pull(r)
	s.readers = slices.DeleteFunc(s.readers, func(x *reader) bool { return x == r })
	s.notify()
}

// Insert puts c into the reader (adding the reader if needed; replacing any card
// there). The card is powered up fresh.
func (s *System) Insert(name string, c *Card) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.find(name)
	if r == nil {
		r = &reader{name: name}
		s.readers = append(s.readers, r)
	}
	if r.card != nil {
		s.pull(r)
	}
	c.Reset()
	r.card = c
	r.events++
	s.notify()
}

// Remove takes the card out of the reader; its connections answer
// card.ErrRemoved from then on, even after a card is inserted again.
func (s *System) Remove(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.find(name)
	if r == nil || r.card == nil {
		return
	}
	s.pull(r)
	s.notify()
}

func (s *System) pull(r *reader) {
	if r.card == nil {
		return
	}
	for _, t := range r.conns {
		t.mu.Lock()
		t.dead = true
		t.releaseTx()
		t.mu.Unlock()
	}
	r.conns = nil
	r.card.Reset()
	r.card = nil
	r.events++
}

// Reset resets the card in the reader as another application would: the
// connections answer card.ErrReset once and the security state is gone.
func (s *System) Reset(name string) {
	s.mu.Lock()
	r := s.find(name)
	var c *Card
	if r != nil {
		c = r.card
	}
	s.mu.Unlock()
	if c != nil {
		c.Reset()
	}
}

// Readers lists the reader names in the order they were added.
func (s *System) Readers() ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, card.ErrServiceGone
	}
	if len(s.readers) == 0 {
		return nil, card.ErrNoReader
	}
	out := make([]string, len(s.readers))
	for i, r := range s.readers {
		out[i] = r.name
	}
	return out, nil
}

// Status reports the named readers; an unknown name is an error wrapping card.ErrNoReader.
func (s *System) Status(names []string) ([]card.ReaderStatus, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, card.ErrServiceGone
	}
	out := make([]card.ReaderStatus, 0, len(names))
	for _, n := range names {
		r := s.find(n)
		if r == nil {
			return nil, fmt.Errorf("reader %q: %w", n, card.ErrNoReader)
		}
		out = append(out, s.status(r))
	}
	return out, nil
}

func (s *System) status(r *reader) card.ReaderStatus {
	st := card.ReaderStatus{Name: r.name, Present: r.card != nil, Events: r.events}
	if r.card != nil {
		st.ATR = r.card.ATR()
	}
	return st
}

// Wait blocks until a reader differs from known (presence, event counter, a reader
// added or removed), or ctx is done.
func (s *System) Wait(ctx context.Context, known []card.ReaderStatus) error {
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return card.ErrServiceGone
		}
		differs := len(known) != len(s.readers)
		for _, k := range known {
			r := s.find(k.Name)
			if r == nil || (r.card != nil) != k.Present || r.events != k.Events {
				differs = true
			}
		}
		ch := s.changed
		s.mu.Unlock()
		if differs {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Connect opens a connection to the card in the named reader.
func (s *System) Connect(name string) (card.Transport, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, card.ErrServiceGone
	}
	r := s.find(name)
	if r == nil {
		return nil, fmt.Errorf("reader %q: %w", name, card.ErrNoReader)
	}
	if r.card == nil {
		return nil, card.ErrNoCard
	}
	t := &Transport{c: r.card, gen: r.card.generation()}
	r.conns = append(r.conns, t)
	return t, nil
}

// Close releases the system: Wait returns and every call answers card.ErrServiceGone.
func (s *System) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		s.notify()
	}
	return nil
}
