package session

import (
	"bytes"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jpki-pkcs11/jpki-pkcs11/card"
	"github.com/jpki-pkcs11/jpki-pkcs11/ck"
	"github.com/jpki-pkcs11/jpki-pkcs11/vcard"
)

// stuckSystem is a fakeSystem whose cards stop answering at a command, as
// card/pcsc reports it (card.Transport, card.System): that command gives
// card.ErrNoAnswer, the transport is given up (card.ErrRemoved from then on),
// and the reader shows no card until its event counter changes.
type stuckSystem struct {
	*fakeSystem
	at    func(reader string, cmd []byte) bool // the command the card does not answer
	smu   sync.Mutex
	stuck map[string]uint32 // reader -> event counter when its card stopped answering
}

func (s *stuckSystem) Status(readers []string) ([]card.ReaderStatus, error) {
	out, err := s.fakeSystem.Status(readers)
	s.smu.Lock()
	defer s.smu.Unlock()
	for i, st := range out {
		if e, ok := s.stuck[st.Name]; ok && st.Present && st.Events == e {
			out[i].Present, out[i].ATR = false, nil
		}
	}
	return out, err
}

func (s *stuckSystem) Connect(reader string) (card.Transport, error) {
	if st, _ := s.Status([]string{reader}); len(st) == 1 && !st[0].Present {
		return nil, card.ErrNoCard
	}
	t, err := s.fakeSystem.Connect(reader)
	if err != nil {
		return nil, err
	}
	return &stuckTransport{Transport: t, s: s, reader: reader}, nil
}

type stuckTransport struct {
	card.Transport
	s      *stuckSystem
	reader string
	gone   bool
}

func (t *stuckTransport) Transmit(cmd []byte) ([]byte, error) {
	if t.gone {
		return nil, card.ErrRemoved
	}
	if t.s.at(t.reader, cmd) {
		t.gone = true
		st, _ := t.s.fakeSystem.Status([]string{t.reader})
		t.s.smu.Lock()
		t.s.stuck[t.reader] = st[0].Events
		t.s.smu.Unlock()
		return nil, fmt.Errorf("fake transmit: %w", card.ErrNoAnswer)
	}
	return t.Transport.Transmit(cmd)
}

func (t *stuckTransport) Begin() error {
	if t.gone {
		return card.ErrRemoved
	}
	return t.Transport.Begin()
}

func (t *stuckTransport) End() error {
	if t.gone {
		return nil
	}
	return t.Transport.End()
}

// TestCardStopsAnswering: the signature command gets no answer. C_Sign answers
// CKR_DEVICE_ERROR; the card is then treated as removed (the session
// CKR_DEVICE_REMOVED once, the token out of the slot list, a slot event) until
// the reader's event counter changes; the card put back signs again.
func TestCardStopsAnswering(t *testing.T) {
	f := newFakeSystem(reader0, "Virtual Reader 1")
	c := newVCard(t, vcard.Options{})
	f.Insert(reader0, c)
	other := newVCard(t, vcard.Options{})
	f.Insert("Virtual Reader 1", other)
	hang := true
	s := &stuckSystem{fakeSystem: f, stuck: map[string]uint32{},
		at: func(r string, cmd []byte) bool {
			return hang && r == reader0 && len(cmd) > 5 && bytes.HasPrefix(cmd, []byte{0x80, 0x2A})
		}}
	m, err := New(Config{System: s})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	sha := Mechanism{Type: ck.CKM_SHA256_RSA_PKCS}
	h, priv, _ := loggedIn(t, m, 0, "1234")
	hb, privB, _ := loggedIn(t, m, 2, "1234")
	for range 4 { // the insertions
		if _, err := m.WaitForSlotEvent(true); err != nil {
			break
		}
	}
	must(t, "SignInit", m.SignInit(h, sha, priv))
	_, err = m.Sign(h, []byte("data"))
	wantRV(t, "Sign on a card that stops answering", err, ck.CKR_DEVICE_ERROR)

	_, err = m.SessionInfo(h)
	wantRV(t, "SessionInfo after the card stopped answering", err, ck.CKR_DEVICE_REMOVED)
	_, err = m.SessionInfo(h)
	wantRV(t, "SessionInfo again", err, ck.CKR_SESSION_HANDLE_INVALID)
	slots, err := m.SlotList(true)
	if err != nil || slices.Contains(slots, 0) || !slices.Contains(slots, 2) {
		t.Fatalf("slots with a token: %v %v, want 2 and not 0", slots, err)
	}
	_, err = m.TokenInfo(0)
	wantRV(t, "TokenInfo of the stuck card", err, ck.CKR_TOKEN_NOT_PRESENT)
	_, err = m.OpenSession(0, ck.CKF_SERIAL_SESSION)
	wantRV(t, "OpenSession on the stuck card", err, ck.CKR_TOKEN_NOT_PRESENT)
	if id, err := m.WaitForSlotEvent(true); err != nil || id != 0 {
		t.Fatalf("slot event: %d %v, want slot 0", id, err)
	}
	// the other card is untouched
	must(t, "SignInit on the other card", m.SignInit(hb, sha, privB))
	if _, err := m.Sign(hb, []byte("data")); err != nil {
		t.Fatalf("Sign on the other card: %v", err)
	}

	// taken out and put back: a new insertion, the card answers again
	hang = false
	f.Remove(reader0)
	f.Insert(reader0, c)
	h, priv, _ = loggedIn(t, m, 0, "1234")
	must(t, "SignInit after the card was put back", m.SignInit(h, sha, priv))
	if _, err := m.Sign(h, []byte("data")); err != nil {
		t.Fatalf("Sign after the card was put back: %v", err)
	}
}

// TestCloseWhileLogoutHangs: C_Finalize logs out of the cards (a SELECT each);
// a card that takes that command and never answers does not hold Close up
// (it waits closeLogoutWait, then lets PC/SC's close make the command give up).
func TestCloseWhileLogoutHangs(t *testing.T) {
	f := newFakeSystem(reader0)
	f.Insert(reader0, newVCard(t, vcard.Options{}))
	release := make(chan struct{})
	defer close(release)
	var loggedInNow bool
	s := &blockingSystem{fakeSystem: f, block: func(cmd []byte) bool {
		// the logout's SELECT of the JPKI AP, once a PIN was verified
		return loggedInNow && bytes.HasPrefix(cmd, []byte{0x00, 0xA4, 0x04})
	}, release: release}
	m, err := New(Config{System: s})
	if err != nil {
		t.Fatal(err)
	}
	loggedIn(t, m, 0, "1234")
	loggedInNow = true
	closed := make(chan struct{})
	go func() { m.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * closeLogoutWait):
		t.Fatal("Close waits for a card that does not answer the logout")
	}
	if !s.blocked.Load() {
		t.Fatal("the logout never reached the card: the test tested nothing")
	}
}

// blockingSystem is a fakeSystem whose transports block on the commands block
// picks until release is closed (a card that takes a command and does not answer).
type blockingSystem struct {
	*fakeSystem
	block   func(cmd []byte) bool
	release chan struct{}
	blocked atomic.Bool
}

func (s *blockingSystem) Connect(reader string) (card.Transport, error) {
	t, err := s.fakeSystem.Connect(reader)
	if err != nil {
		return nil, err
	}
	return &blockingTransport{Transport: t, s: s}, nil
}

type blockingTransport struct {
	card.Transport
	s *blockingSystem
}

func (t *blockingTransport) Transmit(cmd []byte) ([]byte, error) {
	if t.s.block(cmd) {
		t.s.blocked.Store(true)
		<-t.s.release
		return nil, fmt.Errorf("fake transmit: %w", card.ErrNoAnswer)
	}
	return t.Transport.Transmit(cmd)
}
