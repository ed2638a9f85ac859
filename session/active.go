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

// Operation names a kind of operation a session can have active.
type Operation int

// The kinds of operation EndOperation ends.
const (
	SignOperation Operation = iota + 1
	VerifyOperation
	DigestOperation
)

// EndOperation ends session h's active operation of kind op and reports whether
// there was one. module/ calls it when it refuses a call of that operation for
// its arguments (CKR_ARGUMENTS_BAD), which by the specification ends the
// operation as any other error does. An unknown session has nothing to end.
func (m *Manager) EndOperation(h ck.ULong, op Operation) bool {
	s, err := m.get(h)
	if err != nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var ended bool
	switch op {
	case SignOperation:
		ended, s.sign = s.sign != nil, nil
	case VerifyOperation:
		ended, s.verify = s.verify != nil, nil
	case DigestOperation:
		ended, s.digest = s.digest != nil, nil
	}
	return ended
}
