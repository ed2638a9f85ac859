package session

import "github.com/jpki-pkcs11/jpki-pkcs11/ck"

// Selectors of a session's current operation of each kind, for activeOp.
func signOf(s *session) **signOp     { return &s.sign }
func verifyOf(s *session) **verifyOp { return &s.verify }
func digestOf(s *session) **digestOp { return &s.digest }

// activeOp runs f on session h, locked, with the slot of its current operation of
// the kind sel picks (CKR_OPERATION_NOT_INITIALIZED when there is none). f ends the
// operation by setting *slot to nil.
func activeOp[T any](m *Manager, h ck.ULong, sel func(*session) **T, f func(s *session, slot **T) error) error {
	s, err := m.get(h)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	slot := sel(s)
	if *slot == nil {
		return ck.CKR_OPERATION_NOT_INITIALIZED
	}
	return f(s, slot)
}
