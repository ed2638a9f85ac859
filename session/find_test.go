package session

import (
	"testing"

	"github.com/jpki-pkcs11/jpki-pkcs11/ck"
	"github.com/jpki-pkcs11/jpki-pkcs11/vcard"
)

// TestObjectSize: ObjectSize (C_GetObjectSize) answers each object's encoded size,
// the bytes of every attribute value a caller can read: more than the certificate's
// DER for a certificate, and never anything for an object the session cannot see.
func TestObjectSize(t *testing.T) {
	m, _, c := setup(t, vcard.Options{})
	h := open(t, m, 0, false)
	certs := find(t, m, h, append(classTmpl(ck.CKO_CERTIFICATE), Attribute{Type: ck.CKA_ID, Value: []byte{1}}))
	if len(certs) != 1 {
		t.Fatalf("authentication certificates: %v", certs)
	}
	n, err := m.ObjectSize(h, certs[0])
	must(t, "ObjectSize(certificate)", err)
	der := len(c.Status().AuthCert)
	label := len(attr(t, m, h, certs[0], ck.CKA_LABEL))
	if int(n) < der+label {
		t.Fatalf("certificate size %d, want at least its DER (%d) and label (%d)", n, der, label)
	}
	for _, cls := range []ck.ULong{ck.CKO_PUBLIC_KEY, ck.CKO_PRIVATE_KEY, ck.CKO_PROFILE} {
		for _, o := range find(t, m, h, classTmpl(cls)) {
			n, err := m.ObjectSize(h, o)
			must(t, "ObjectSize", err)
			if n == 0 {
				t.Fatalf("class %#x: size 0", cls)
			}
		}
	}
	_, err = m.ObjectSize(h, 0x7777)
	wantRV(t, "ObjectSize(unknown object)", err, ck.CKR_OBJECT_HANDLE_INVALID)
	_, err = m.ObjectSize(0x7777, certs[0])
	wantRV(t, "ObjectSize(unknown session)", err, ck.CKR_SESSION_HANDLE_INVALID)
	// the signature token's certificate is private: invisible before the login
	hs := open(t, m, 1, false)
	must(t, "Login", m.Login(hs, ck.CKU_USER, []byte("ABC123")))
	private := find(t, m, hs, append(classTmpl(ck.CKO_CERTIFICATE), Attribute{Type: ck.CKA_ID, Value: []byte{2}}))[0]
	if _, err := m.ObjectSize(hs, private); err != nil {
		t.Fatalf("ObjectSize(private certificate) logged in: %v", err)
	}
	must(t, "Logout", m.Logout(hs))
	_, err = m.ObjectSize(hs, private)
	wantRV(t, "ObjectSize(private certificate) logged out", err, ck.CKR_OBJECT_HANDLE_INVALID)
}
