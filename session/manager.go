package session

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/jpki-pkcs11/jpki-pkcs11/card"
	"github.com/jpki-pkcs11/jpki-pkcs11/card/pcsc"
	"github.com/jpki-pkcs11/jpki-pkcs11/ck"
	"github.com/jpki-pkcs11/jpki-pkcs11/objects"
)

// Manager owns the slots, tokens and sessions of one C_Initialize. All its
// methods are safe for concurrent use.
//
// Locks: mu guards readers, sessions and handles and is never held during card
// I/O or a PC/SC call. Each inserted card has its own lock (cardState.mu) taken
// around every card operation, and a leaf lock (cardState.smu) for the facts
// (and cached objects) other calls read without waiting for the card. Card
// operations of several threads queue on the card (cardState.run): one caller
// runs the queued operations back to back, so the card never waits for a thread
// to wake up.
type Manager struct {
	sys     card.System
	ownSys  bool
	tokens  Tokens
	log     *slog.Logger
	ctx     context.Context
	cancel  context.CancelFunc
	eventMu sync.Mutex // one WaitForSlotEvent scan at a time

	mu       sync.Mutex
	closed   bool
	scanned  bool // readers listed at least once
	readers  []*reader
	sessions map[ck.ULong]*session
	removed  map[ck.ULong]bool // sessions ended by a card removal, not yet told
	nextSess ck.ULong
	nextObj  ck.ULong
}

// reader is one PC/SC reader: slots 2*idx (authentication) and 2*idx+1 (signature).
type reader struct {
	name  string
	idx   int
	cur   *cardState        // the card in the reader, nil when none
	known card.ReaderStatus // state last reported by WaitForSlotEvent
}

// New returns a Manager; it makes no PC/SC call.
func New(cfg Config) (*Manager, error) {
	m := &Manager{sys: cfg.System, log: cfg.Log, tokens: cfg.Tokens, sessions: map[ck.ULong]*session{},
		removed: map[ck.ULong]bool{}, nextSess: 1, nextObj: 1}
	if m.log == nil {
		m.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if m.sys == nil {
		s, err := pcsc.New()
		if err != nil {
			return nil, fmt.Errorf("PC/SC: %w", err)
		}
		m.sys, m.ownSys = s, true
	}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	return m, nil
}

// Close ends everything (C_Finalize): wakes WaitForSlotEvent, ends the sessions,
// logs out of the cards it can reach without waiting, releases PC/SC.
func (m *Manager) Close() {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.closed = true
	m.cancel()
	var cards []*cardState
	for _, r := range m.readers {
		if r.cur != nil {
			cards = append(cards, r.cur)
			r.cur.gone = true
			r.cur = nil
		}
	}
	clear(m.sessions)
	clear(m.removed)
	m.mu.Unlock()
	// Logging out sends a command to each card with a verified PIN: wait for
	// that at most closeLogoutWait (a card may have stopped answering just now),
	// then close PC/SC, which makes a command still waiting give up.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, cs := range cards {
			if cs.mu.TryLock() {
				cs.logoutAll()
				cs.closeLocked()
				cs.mu.Unlock()
			} else {
				go cs.close() // a slow operation holds the card: do not wait for it
			}
		}
	}()
	t := time.NewTimer(closeLogoutWait)
	select {
	case <-done:
	case <-t.C:
		m.log.Warn("C_Finalize: a card did not answer the logout; closing without waiting for it", "waited", closeLogoutWait)
	}
	t.Stop()
	if m.ownSys {
		m.sys.Close()
	}
}

// closeLogoutWait bounds how long Close waits for the cards to forget their
// verified PINs (one SELECT each, milliseconds on a card that answers).
const closeLogoutWait = time.Second

// errClosed is what every call answers after Close.
var errClosed = ck.CKR_CRYPTOKI_NOT_INITIALIZED

// refresh lists the readers and their state (no APDU) and applies it: new readers
// are appended, a card that left (or was replaced) is dropped with its sessions.
func (m *Manager) refresh() ([]card.ReaderStatus, error) {
	names, err := m.sys.Readers()
	var sts []card.ReaderStatus
	if err == nil && len(names) > 0 {
		sts, err = m.sys.Status(names)
	}
	if err != nil && !removal(err) {
		m.log.Warn("listing readers failed", "err", err)
		return nil, ck.CKR_DEVICE_ERROR
	}
	if err != nil {
		m.log.Info("no reader or no PC/SC service", "err", err)
		sts = nil
	}
	var dropped []*cardState
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, errClosed
	}
	first := !m.scanned
	m.scanned = true
	seen := map[string]card.ReaderStatus{}
	for _, st := range sts {
		seen[st.Name] = st
		if m.readerLocked(st.Name) == nil {
			r := &reader{name: st.Name, idx: len(m.readers), known: card.ReaderStatus{Name: st.Name}}
			if first {
				r.known = st
			}
			m.readers = append(m.readers, r)
			m.log.Info("reader added", "reader", st.Name, "slots", []int{2 * r.idx, 2*r.idx + 1})
		}
	}
	for _, r := range m.readers {
		st, ok := seen[r.name]
		switch {
		case ok && st.Present && r.cur != nil && r.cur.events == st.Events:
		case ok && st.Present:
			if r.cur != nil {
				dropped = append(dropped, m.dropLocked(r.cur))
			}
			r.cur = m.newCardLocked(r, st.Events)
		case r.cur != nil:
			dropped = append(dropped, m.dropLocked(r.cur))
		}
	}
	m.mu.Unlock()
	for _, cs := range dropped {
		go cs.close()
	}
	return sts, nil
}

func (m *Manager) readerLocked(name string) *reader {
	for _, r := range m.readers {
		if r.name == name {
			return r
		}
	}
	return nil
}

func (m *Manager) newCardLocked(r *reader, events uint32) *cardState {
	cs := &cardState{m: m, reader: r.name, idx: r.idx, events: events, objBase: m.nextObj,
		certs: map[uint16]*certEntry{}, objs: map[ck.ULong]*objects.Object{}, tries: [3]int{-1, -1, -1}}
	m.nextObj += objectsPerCard
	return cs
}

// dropLocked forgets a card that went away: its sessions end (their next call
// says CKR_DEVICE_REMOVED once). It returns cs for closing outside the lock.
func (m *Manager) dropLocked(cs *cardState) *cardState {
	if cs.gone {
		return cs
	}
	cs.gone = true
	m.log.Info("card gone", "reader", cs.reader)
	for h, s := range m.sessions {
		if s.cs == cs {
			delete(m.sessions, h)
			m.removed[h] = true
		}
	}
	for _, r := range m.readers {
		if r.cur == cs {
			r.cur = nil
		}
	}
	return cs
}

// drop forgets cs (after an operation saw the card go) and closes its transport.
func (m *Manager) drop(cs *cardState) {
	m.mu.Lock()
	m.dropLocked(cs)
	m.mu.Unlock()
	go cs.close()
}

// slot resolves a slot id to its reader and token. The reader's card may be nil.
func (m *Manager) slot(id ck.ULong) (*reader, objects.Token, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, 0, errClosed
	}
	if id >= ck.ULong(2*len(m.readers)) {
		return nil, 0, ck.CKR_SLOT_ID_INVALID
	}
	tok := objects.AuthToken
	if id%2 == 1 {
		tok = objects.SignToken
	}
	return m.readers[id/2], tok, nil
}

// cardIn returns the card currently in r, or nil.
func (m *Manager) cardIn(r *reader) *cardState {
	m.mu.Lock()
	defer m.mu.Unlock()
	return r.cur
}

// withCard runs f on cs's card under the card lock (connecting first if needed).
// A removal seen by f drops the card and its sessions.
func (m *Manager) withCard(cs *cardState, f func(c card.Generation) error) error {
	err := cs.run(f)
	if removal(err) {
		m.drop(cs)
	}
	return err
}
