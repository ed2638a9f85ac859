package session

import (
	"testing"

	"github.com/jpki-pkcs11/jpki-pkcs11/ck"
	"github.com/jpki-pkcs11/jpki-pkcs11/vcard"
)

// TestEndOperation: EndOperation (module/ calls it for a call refused with
// CKR_ARGUMENTS_BAD) ends exactly the session's operation of the kind named, a
// stalled signature too, and nothing on other sessions; an unknown session or no
// operation has nothing to end.
func TestEndOperation(t *testing.T) {
	m, _, _ := setup(t, vcard.Options{})
	h, priv, pub := loggedIn(t, m, 0, "1234")
	other := open(t, m, 0, false) // the token is logged in: for every session
	otherPriv := find(t, m, other, classTmpl(ck.CKO_PRIVATE_KEY))[0]
	sha := Mechanism{Type: ck.CKM_SHA256_RSA_PKCS}
	must(t, "SignInit", m.SignInit(h, sha, priv))
	must(t, "SignInit (other session)", m.SignInit(other, sha, otherPriv))
	must(t, "VerifyInit", m.VerifyInit(h, sha, pub))
	must(t, "DigestInit", m.DigestInit(h, Mechanism{Type: ck.CKM_SHA256}))

	if !m.EndOperation(h, SignOperation) {
		t.Fatal("EndOperation(sign) found no signature")
	}
	_, err := m.Sign(h, []byte("x"))
	wantRV(t, "Sign after EndOperation", err, ck.CKR_OPERATION_NOT_INITIALIZED)
	wantRV(t, "SignUpdate after EndOperation", m.SignUpdate(h, []byte("x")), ck.CKR_OPERATION_NOT_INITIALIZED)
	if m.EndOperation(h, SignOperation) {
		t.Fatal("EndOperation(sign) twice found a signature")
	}
	// the other kinds and the other session go on
	must(t, "DigestUpdate", m.DigestUpdate(h, []byte("x")))
	sig, err := m.Sign(other, []byte("x"))
	must(t, "Sign (other session)", err)
	must(t, "Verify", m.Verify(h, []byte("x"), sig))

	if !m.EndOperation(h, DigestOperation) {
		t.Fatal("EndOperation(digest) found no digest")
	}
	_, err = m.DigestFinal(h)
	wantRV(t, "DigestFinal after EndOperation", err, ck.CKR_OPERATION_NOT_INITIALIZED)
	must(t, "VerifyInit", m.VerifyInit(h, sha, pub))
	if !m.EndOperation(h, VerifyOperation) {
		t.Fatal("EndOperation(verify) found no verification")
	}
	wantRV(t, "VerifyFinal after EndOperation", m.VerifyFinal(h, sig), ck.CKR_OPERATION_NOT_INITIALIZED)

	// a signature stalled for want of a login ends too (the authentication key
	// starts an operation without a login: CKA_ALWAYS_AUTHENTICATE)
	must(t, "Logout", m.Logout(h))
	must(t, "SignInit without login", m.SignInit(h, sha, priv))
	_, err = m.SignLength(h)
	wantRV(t, "SignLength without login", err, ck.CKR_USER_NOT_LOGGED_IN)
	if !m.EndOperation(h, SignOperation) {
		t.Fatal("EndOperation found no stalled signature")
	}
	_, err = m.SignLength(h)
	wantRV(t, "SignLength after EndOperation", err, ck.CKR_OPERATION_NOT_INITIALIZED)
	if m.EndOperation(0x7777, SignOperation) {
		t.Fatal("EndOperation on an unknown session ended something")
	}
}
