package session

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jpki-pkcs11/jpki-pkcs11/card"
	"github.com/jpki-pkcs11/jpki-pkcs11/vcard"
)

// fakeSystem is a card.System of readers holding virtual cards in-process.
type fakeSystem struct {
	mu      sync.Mutex
	readers []string
	cards   map[string]*vcard.Card
	events  map[string]uint32
	conns   map[string][]card.Transport
	closed  bool
	statusN int          // Status calls (for tests)
	begins  atomic.Int64 // transactions begun on the transports handed out
}

// countingTransport counts the transactions begun through it.
type countingTransport struct {
	card.Transport
	n *atomic.Int64
}

func (c countingTransport) Begin() error {
	c.n.Add(1)
	return c.Transport.Begin()
}

func newFakeSystem(readers ...string) *fakeSystem {
	f := &fakeSystem{cards: map[string]*vcard.Card{}, events: map[string]uint32{},
		conns: map[string][]card.Transport{}}
	for _, r := range readers {
		f.AddReader(r)
	}
	return f
}

func (f *fakeSystem) AddReader(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.readers = append(f.readers, name)
}

func (f *fakeSystem) Insert(reader string, c *vcard.Card) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cards[reader] = c
	f.events[reader]++
}

func (f *fakeSystem) Remove(reader string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.cards, reader)
	f.events[reader]++
	for _, t := range f.conns[reader] {
		t.(*vcard.Transport).Remove()
	}
	f.conns[reader] = nil
}

func (f *fakeSystem) Reset(reader string) {
	f.mu.Lock()
	c := f.cards[reader]
	f.mu.Unlock()
	c.Reset()
}

func (f *fakeSystem) Readers() ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.readers) == 0 {
		return nil, card.ErrNoReader
	}
	return slices.Clone(f.readers), nil
}

func (f *fakeSystem) Status(readers []string) ([]card.ReaderStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.statusN++
	out := make([]card.ReaderStatus, 0, len(readers))
	for _, r := range readers {
		c := f.cards[r]
		st := card.ReaderStatus{Name: r, Present: c != nil, Events: f.events[r]}
		if c != nil {
			st.ATR = c.ATR()
		}
		out = append(out, st)
	}
	return out, nil
}

func (f *fakeSystem) Wait(ctx context.Context, known []card.ReaderStatus) error {
	for {
		names, _ := f.Readers()
		now, _ := f.Status(names)
		if len(now) != len(known) {
			return nil
		}
		for i := range now {
			if now[i].Name != known[i].Name || now[i].Present != known[i].Present || now[i].Events != known[i].Events {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func (f *fakeSystem) Connect(reader string) (card.Transport, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.cards[reader]
	if c == nil {
		return nil, card.ErrNoCard
	}
	t := vcard.NewTransport(c)
	f.conns[reader] = append(f.conns[reader], t)
	return countingTransport{t, &f.begins}, nil
}

func (f *fakeSystem) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	return nil
}
