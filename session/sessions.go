package session

import (
	"errors"
	"sync"

	"github.com/jpki-pkcs11/jpki-pkcs11/card"
	"github.com/jpki-pkcs11/jpki-pkcs11/ck"
	"github.com/jpki-pkcs11/jpki-pkcs11/objects"
)

// session is one open session. mu serialises the calls on it (it may be held
// during card I/O; Manager.mu is never taken before it).
type session struct {
	h    ck.ULong
	slot ck.ULong
	cs   *cardState
	tok  objects.Token
	rw   bool

	mu      sync.Mutex
	find    []ck.ULong // nil: no search active
	finding bool
	sign    *signOp
	verify  *verifyOp
	digest  *digestOp
}

// get returns the session h after checking (no APDU) that its card is still in
// the reader. A session ended by a removal answers CKR_DEVICE_REMOVED once, then
// CKR_SESSION_HANDLE_INVALID.
func (m *Manager) get(h ck.ULong) (*session, error) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, errClosed
	}
	s := m.sessions[h]
	if s == nil {
		gone := m.removed[h]
		delete(m.removed, h)
		m.mu.Unlock()
		if gone {
			return nil, ck.CKR_DEVICE_REMOVED
		}
		return nil, ck.CKR_SESSION_HANDLE_INVALID
	}
	m.mu.Unlock()
	sts, err := m.sys.Status([]string{s.cs.reader})
	if err != nil || len(sts) != 1 || !sts[0].Present || sts[0].Events != s.cs.events {
		if err != nil && !removal(err) {
			m.log.Warn("reader status failed", "reader", s.cs.reader, "err", err)
			return nil, ck.CKR_DEVICE_ERROR
		}
		m.drop(s.cs)
		m.mu.Lock()
		delete(m.removed, h)
		m.mu.Unlock()
		return nil, ck.CKR_DEVICE_REMOVED
	}
	return s, nil
}

// fail turns an error of an operation on s into its CK_RV; a removal ends the
// card's sessions and this call alone says CKR_DEVICE_REMOVED.
func (m *Manager) fail(s *session, err error) error {
	if err == nil {
		return nil
	}
	if removal(err) {
		m.mu.Lock()
		delete(m.removed, s.h)
		m.mu.Unlock()
	}
	return rvOf(err)
}

// OpenSession opens a session on the token of slot.
func (m *Manager) OpenSession(slot, flags ck.ULong) (ck.ULong, error) {
	if flags&ck.CKF_SERIAL_SESSION == 0 {
		return 0, ck.CKR_SESSION_PARALLEL_NOT_SUPPORTED
	}
	cs, t, _, err := m.token(slot)
	if err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return 0, errClosed
	}
	if cs.gone {
		return 0, ck.CKR_TOKEN_NOT_PRESENT
	}
	h := m.nextSess
	m.nextSess++
	m.sessions[h] = &session{h: h, slot: slot, cs: cs, tok: t, rw: flags&ck.CKF_RW_SESSION != 0}
	return h, nil
}

// CloseSession closes h; closing the token's last session logs it out.
func (m *Manager) CloseSession(h ck.ULong) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return errClosed
	}
	s := m.sessions[h]
	if s == nil {
		gone := m.removed[h]
		delete(m.removed, h)
		m.mu.Unlock()
		if gone {
			return nil // its card went away: nothing left to close
		}
		return ck.CKR_SESSION_HANDLE_INVALID
	}
	delete(m.sessions, h)
	last := !m.hasSessionsLocked(s.cs, s.tok)
	m.mu.Unlock()
	if last {
		m.logoutToken(s.cs, s.tok)
	}
	return nil
}

func (m *Manager) hasSessionsLocked(cs *cardState, t objects.Token) bool {
	for _, o := range m.sessions {
		if o.cs == cs && o.tok == t {
			return true
		}
	}
	return false
}

// logoutToken ends the token's login on the card (when its last session closes).
func (m *Manager) logoutToken(cs *cardState, t objects.Token) {
	k := keyOf(t)
	if !cs.isLoggedIn(k) {
		return
	}
	err := m.withCard(cs, func(c card.Generation) error {
		cs.setLoggedIn(k, false)
		return c.Logout(k)
	})
	if err != nil {
		m.log.Info("logout on last session close failed", "reader", cs.reader, "err", err)
	}
}

// CloseAllSessions closes every session of the slot's token and logs it out.
func (m *Manager) CloseAllSessions(slot ck.ULong) error {
	r, t, err := m.slot(slot)
	if err != nil {
		return err
	}
	m.mu.Lock()
	cs := r.cur
	for h, s := range m.sessions {
		if s.slot == slot {
			delete(m.sessions, h)
		}
	}
	m.mu.Unlock()
	if cs != nil {
		m.logoutToken(cs, t)
	}
	return nil
}

// SessionInfo describes a session; its state follows the token's login.
func (m *Manager) SessionInfo(h ck.ULong) (SessionInfo, error) {
	s, err := m.get(h)
	if err != nil {
		return SessionInfo{}, err
	}
	info := SessionInfo{SlotID: s.slot, Flags: ck.CKF_SERIAL_SESSION}
	in := s.cs.isLoggedIn(keyOf(s.tok))
	switch {
	case s.rw && in:
		info.State = ck.CKS_RW_USER_FUNCTIONS
	case s.rw:
		info.State = ck.CKS_RW_PUBLIC_SESSION
	case in:
		info.State = ck.CKS_RO_USER_FUNCTIONS
	default:
		info.State = ck.CKS_RO_PUBLIC_SESSION
	}
	if s.rw {
		info.Flags |= ck.CKF_RW_SESSION
	}
	return info, nil
}

// Login verifies the PIN of the session's token with the card. A malformed PIN
// is refused here (CKR_PIN_INCORRECT, the reason logged) and costs no try; the
// card layer never retries. CKU_USER logs the token in (all its sessions).
// CKU_CONTEXT_SPECIFIC is accepted inside an active signature operation, with or
// without a prior CKU_USER login: it verifies the PIN (one VERIFY) and logs the
// token in just as CKU_USER does. That is what lets NSS sign with the
// authentication key after a single PIN prompt (docs/ONE-PIN.md): its
// CKA_ALWAYS_AUTHENTICATE is true only while the token is not logged in.
func (m *Manager) Login(h, userType ck.ULong, pin []byte) error {
	s, err := m.get(h)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := keyOf(s.tok)
	switch userType {
	case ck.CKU_USER:
		if s.cs.isLoggedIn(k) {
			return ck.CKR_USER_ALREADY_LOGGED_IN
		}
	case ck.CKU_CONTEXT_SPECIFIC:
		if s.sign == nil {
			return ck.CKR_OPERATION_NOT_INITIALIZED
		}
	case ck.CKU_SO:
		// the card has no security officer PIN
		m.log.Info("login as security officer refused: the card has no SO PIN")
		return ck.CKR_USER_TYPE_INVALID
	default:
		return ck.CKR_USER_TYPE_INVALID
	}
	if p, err := card.CheckPIN(k, pin); err != nil {
		m.log.Info("PIN refused before reaching the card (no try spent)", "key", k.String(), "why", err.Error())
		return ck.CKR_PIN_INCORRECT
	} else {
		card.Wipe(p)
	}
	if f := s.cs.facts(); f.tries[k] == 0 {
		m.log.Info("PIN blocked: login refused without asking the card", "key", k.String())
		return ck.CKR_PIN_LOCKED
	}
	err = m.withCard(s.cs, func(c card.Generation) error {
		err := c.Verify(k, pin)
		m.noteTries(s.cs, k, err)
		if err == nil {
			s.cs.setLoggedIn(k, true)
		}
		return err
	})
	if err != nil {
		m.log.Info("login failed", "key", k.String(), "err", err)
		if userType == ck.CKU_CONTEXT_SPECIFIC && s.sign != nil && rvOf(err) != ck.CKR_PIN_INCORRECT {
			s.sign = nil
		}
	}
	return m.fail(s, err)
}

// noteTries updates the token's PIN counter from the card's answer to a VERIFY
// with the PIN (no APDU): a good PIN resets it, a refusal (card.PINError) says
// what is left. Any other failure (a SELECT, the transport) says nothing about it.
func (m *Manager) noteTries(cs *cardState, k card.Key, err error) {
	var pe *card.PINError
	switch {
	case err == nil:
		cs.setTries(k, k.MaxTries())
	case !errors.As(err, &pe):
	case errors.Is(pe, card.ErrPINBlocked):
		cs.setTries(k, 0)
	default:
		if n, ok := pe.TriesLeft(); ok {
			cs.setTries(k, n)
		}
	}
}

// Logout ends the token's login for all its sessions and on the card.
func (m *Manager) Logout(h ck.ULong) error {
	s, err := m.get(h)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := keyOf(s.tok)
	if !s.cs.isLoggedIn(k) {
		return ck.CKR_USER_NOT_LOGGED_IN
	}
	err = m.withCard(s.cs, func(c card.Generation) error {
		s.cs.setLoggedIn(k, false)
		return c.Logout(k)
	})
	s.sign = nil
	if removal(err) {
		return m.fail(s, err)
	}
	return nil // the login is gone from our side in any case
}

// SetPIN changes the PIN of the session's token (R/W session). Both PINs pass
// the card layer's format rules first: a malformed old PIN is CKR_PIN_INCORRECT
// (no try spent), a malformed new one CKR_PIN_LEN_RANGE or CKR_PIN_INVALID.
func (m *Manager) SetPIN(h ck.ULong, oldPIN, newPIN []byte) error {
	s, err := m.get(h)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.rw {
		return ck.CKR_SESSION_READ_ONLY
	}
	k := keyOf(s.tok)
	if p, err := card.CheckPIN(k, oldPIN); err != nil {
		m.log.Info("old PIN refused before reaching the card (no try spent)", "key", k.String(), "why", err.Error())
		return ck.CKR_PIN_INCORRECT
	} else {
		card.Wipe(p)
	}
	if p, err := card.CheckPIN(k, newPIN); err != nil {
		m.log.Info("new PIN refused", "key", k.String(), "why", err.Error())
		if k == card.AuthKey && len(newPIN) != 4 || k == card.SignKey && (len(newPIN) < 6 || len(newPIN) > 16) {
			return ck.CKR_PIN_LEN_RANGE
		}
		return ck.CKR_PIN_INVALID
	} else {
		card.Wipe(p)
	}
	if f := s.cs.facts(); f.tries[k] == 0 {
		return ck.CKR_PIN_LOCKED
	}
	wasIn := s.cs.isLoggedIn(k)
	err = m.withCard(s.cs, func(c card.Generation) error {
		err := c.ChangePIN(k, oldPIN, newPIN)
		m.noteTries(s.cs, k, err)
		if err == nil && !wasIn {
			// the change verified the PIN: do not leave it verified on the card
			return c.Logout(k)
		}
		return err
	})
	if err != nil {
		m.log.Info("PIN change failed", "key", k.String(), "err", err)
	}
	return m.fail(s, err)
}
