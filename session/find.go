package session

import (
	"errors"
	"slices"

	"github.com/jpki-pkcs11/jpki-pkcs11/card"
	"github.com/jpki-pkcs11/jpki-pkcs11/ck"
	"github.com/jpki-pkcs11/jpki-pkcs11/objects"
)

// visible reports whether spec s of the session's token can be seen now:
// CKA_PRIVATE objects only while the token is logged in.
func (s *session) visible(spec objects.Spec) bool {
	return !spec.Private || s.cs.isLoggedIn(keyOf(s.tok))
}

// FindObjectsInit starts a search. Certificates are read (at most once per
// insertion) only for objects the template does not rule out by class, id,
// label or CKA_PRIVATE.
func (m *Manager) FindObjectsInit(h ck.ULong, tmpl []Attribute) error {
	s, err := m.get(h)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.finding {
		return ck.CKR_OPERATION_ACTIVE
	}
	t := make([]objects.Template, len(tmpl))
	for i, a := range tmpl {
		t[i] = objects.Template{Type: a.Type, Value: a.Value}
	}
	var found []ck.ULong
	for i, spec := range m.layout(s.cs, s.tok) {
		if !s.visible(spec) || !objects.ClassMatches(t, spec) {
			continue
		}
		o, err := m.object(s.cs, s.tok, i, slices.ContainsFunc(tmpl, isAllowedMechs))
		switch {
		case errors.Is(err, errAbsent):
			continue
		case errors.Is(err, card.ErrNotLoggedIn):
			continue // login lost (reset): private data is not readable now
		case removal(err):
			return m.fail(s, err)
		case err != nil:
			continue // unreadable object (logged): the others still show
		}
		if s.stateful(spec, o).Match(t) {
			found = append(found, s.cs.objectHandle(s.tok, i))
		}
	}
	s.find = found
	s.finding = true
	return nil
}

// FindObjects returns up to max more handles of the active search.
func (m *Manager) FindObjects(h ck.ULong, max int) ([]ck.ULong, error) {
	s, err := m.get(h)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.finding {
		return nil, ck.CKR_OPERATION_NOT_INITIALIZED
	}
	if max < 0 {
		return nil, ck.CKR_ARGUMENTS_BAD
	}
	n := min(max, len(s.find))
	out := append([]ck.ULong(nil), s.find[:n]...)
	s.find = s.find[n:]
	return out, nil
}

// FindObjectsFinal ends the search.
func (m *Manager) FindObjectsFinal(h ck.ULong) error {
	s, err := m.get(h)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.finding {
		return ck.CKR_OPERATION_NOT_INITIALIZED
	}
	s.finding, s.find = false, nil
	return nil
}

// lookup resolves an object handle of the session's token to its index in the
// token's layout; CKR_OBJECT_HANDLE_INVALID for anything else (another card,
// another token, an object the session may not see).
func (s *session) lookup(obj ck.ULong) (int, objects.Spec, error) {
	base := s.cs.objectHandle(s.tok, 0)
	specs := s.cs.m.layout(s.cs, s.tok)
	if obj < base || obj >= base+ck.ULong(len(specs)) {
		return 0, objects.Spec{}, ck.CKR_OBJECT_HANDLE_INVALID
	}
	i := int(obj - base)
	if !s.visible(specs[i]) {
		return 0, objects.Spec{}, ck.CKR_OBJECT_HANDLE_INVALID
	}
	return i, specs[i], nil
}

// GetAttributeValue answers each requested attribute of obj: its value, or
// CKR_ATTRIBUTE_SENSITIVE / CKR_ATTRIBUTE_TYPE_INVALID per attribute. The error
// is for session and object problems only.
func (m *Manager) GetAttributeValue(h, obj ck.ULong, types []ck.ULong) ([]AttrValue, error) {
	var out []AttrValue
	err := m.withObject(h, obj, slices.Contains(types, ck.CKA_ALLOWED_MECHANISMS), func(o *objects.Object) {
		out = make([]AttrValue, len(types))
		for j, t := range types {
			v, rv := o.Attr(t)
			out[j] = AttrValue{Value: v, Err: rv}
		}
	})
	return out, err
}

// ObjectSize is C_GetObjectSize: the object's encoded size, the bytes of all
// the attribute values a caller can read (what C_GetAttributeValue of every
// attribute copies out; sensitive ones count nothing).
func (m *Manager) ObjectSize(h, obj ck.ULong) (size ck.ULong, err error) {
	err = m.withObject(h, obj, true, func(o *objects.Object) { size = ck.ULong(o.Size()) })
	return size, err
}

// withObject runs f on object obj of session h as the session sees it now (with
// CKA_ALLOWED_MECHANISMS when mechs), the session locked. Errors: the session's,
// CKR_OBJECT_HANDLE_INVALID for an object the session cannot see,
// CKR_USER_NOT_LOGGED_IN when private data is not readable now, the card's.
func (m *Manager) withObject(h, obj ck.ULong, mechs bool, f func(o *objects.Object)) error {
	s, err := m.get(h)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i, spec, err := s.lookup(obj)
	if err != nil {
		return err
	}
	o, err := m.object(s.cs, s.tok, i, mechs)
	switch {
	case errors.Is(err, errAbsent):
		return ck.CKR_OBJECT_HANDLE_INVALID
	case errors.Is(err, card.ErrNotLoggedIn):
		return ck.CKR_USER_NOT_LOGGED_IN
	case err != nil:
		return m.fail(s, err)
	}
	f(s.stateful(spec, o))
	return nil
}

// stateful gives the attributes that follow the login state their current value:
// an always-authenticate key answers CKA_ALWAYS_AUTHENTICATE true only while its
// token is not logged in. NSS reads it when it makes a key handle and then asks
// for the PIN (C_Login(CKU_CONTEXT_SPECIFIC)) before each signature with that
// handle; once the token is logged in no further PIN is needed, and saying so
// spares the user a prompt per TLS handshake (docs/ONE-PIN.md).
func (s *session) stateful(spec objects.Spec, o *objects.Object) *objects.Object {
	if !spec.AlwaysAuth || !s.cs.isLoggedIn(keyOf(s.tok)) {
		return o
	}
	return o.With(ck.CKA_ALWAYS_AUTHENTICATE, ck.Bool(false))
}

func isAllowedMechs(a Attribute) bool { return a.Type == ck.CKA_ALLOWED_MECHANISMS }
