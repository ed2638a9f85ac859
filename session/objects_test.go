package session

import (
	"bytes"
	"crypto/rsa"
	"math/big"
	"slices"
	"testing"

	"github.com/jpki-pkcs11/jpki-pkcs11/ck"
	"github.com/jpki-pkcs11/jpki-pkcs11/vcard"
)

func TestPublicObjectsWithoutLogin(t *testing.T) {
	m, _, c := setup(t, vcard.Options{})
	log := logAPDUs(c)
	h := open(t, m, 0, false)
	objs := find(t, m, h, nil)
	got := labels(t, m, h, objs)
	want := []string{"Public Certificates Profile", "User Authentication Certificate",
		"User Authentication Public Key", "User Authentication Key", "User Authentication CA Certificate"}
	if !slices.Equal(got, want) {
		t.Fatalf("auth token objects before login: %q, want %q", got, want)
	}
	// the profile says public certificates
	prof := find(t, m, h, classTmpl(ck.CKO_PROFILE))
	if len(prof) != 1 || !bytes.Equal(attr(t, m, h, prof[0], ck.CKA_PROFILE_ID), ck.EncodeULong(ck.CKP_PUBLIC_CERTIFICATES_TOKEN)) {
		t.Fatalf("profile object: %v", prof)
	}
	// the certificate is the card's
	st := c.Status()
	certs := find(t, m, h, []Attribute{{ck.CKA_CLASS, ck.EncodeULong(ck.CKO_CERTIFICATE)}, {ck.CKA_ID, []byte{1}}})
	if len(certs) != 1 || !bytes.Equal(attr(t, m, h, certs[0], ck.CKA_VALUE), st.AuthCert) {
		t.Fatalf("auth certificate: %v", certs)
	}
	x := certOf(t, st.AuthCert)
	if !bytes.Equal(attr(t, m, h, certs[0], ck.CKA_SUBJECT), x.RawSubject) ||
		!bytes.Equal(attr(t, m, h, certs[0], ck.CKA_CERTIFICATE_CATEGORY), ck.EncodeULong(1)) ||
		string(attr(t, m, h, certs[0], ck.CKA_START_DATE)) != x.NotBefore.UTC().Format("20060102") {
		t.Fatal("certificate attributes differ from the certificate")
	}
	ca := find(t, m, h, []Attribute{{ck.CKA_CERTIFICATE_CATEGORY, ck.EncodeULong(2)}})
	if len(ca) != 1 || !bytes.Equal(attr(t, m, h, ca[0], ck.CKA_VALUE), st.AuthCA) {
		t.Fatalf("CA certificate: %v", ca)
	}
	pub := find(t, m, h, classTmpl(ck.CKO_PUBLIC_KEY))
	n := attr(t, m, h, pub[0], ck.CKA_MODULUS)
	if new(big.Int).SetBytes(n).Cmp(x.PublicKey.(*rsa.PublicKey).N) != 0 {
		t.Fatal("public key modulus differs from the certificate's")
	}
	// the authentication key is public and always-authenticate (docs/ONE-PIN.md):
	// NSS finds it without a login and asks the PIN at the signature
	priv := find(t, m, h, classTmpl(ck.CKO_PRIVATE_KEY))
	if len(priv) != 1 || !bytes.Equal(attr(t, m, h, priv[0], ck.CKA_ALWAYS_AUTHENTICATE), []byte{1}) ||
		!bytes.Equal(attr(t, m, h, priv[0], ck.CKA_PRIVATE), []byte{0}) ||
		!bytes.Equal(attr(t, m, h, priv[0], ck.CKA_ID), []byte{1}) {
		t.Fatalf("authentication key before login: %v", priv)
	}
	// unknown attributes and empty templates
	v, err := m.GetAttributeValue(h, certs[0], []ck.ULong{ck.CKA_MODULUS, ck.CKA_LABEL, 0x7FFFFFF})
	must(t, "GetAttributeValue", err)
	if v[0].Err != ck.CKR_ATTRIBUTE_TYPE_INVALID || v[1].Err != ck.CKR_OK || v[2].Err != ck.CKR_ATTRIBUTE_TYPE_INVALID {
		t.Fatalf("per-attribute errors: %+v", v)
	}
	_, err = m.GetAttributeValue(h, 9999, []ck.ULong{ck.CKA_LABEL})
	wantRV(t, "GetAttributeValue(bad handle)", err, ck.CKR_OBJECT_HANDLE_INVALID)
	if none := find(t, m, h, []Attribute{{ck.CKA_TOKEN, []byte{0}}}); len(none) != 0 {
		t.Fatalf("session objects found: %v", none)
	}

	// the signature token shows only its CA certificate before login, and its
	// certificate file (personal data) is never read
	h2 := open(t, m, 1, false)
	got = labels(t, m, h2, find(t, m, h2, nil))
	if !slices.Equal(got, []string{"Public Certificates Profile", "Digital Signature CA Certificate"}) {
		t.Fatalf("signature token objects before login: %q", got)
	}
	if log.selected(0x0001) {
		t.Fatal("EF 0001 selected without the signature PIN")
	}
	// certificates are read once per insertion
	reads := countReads(log)
	find(t, m, h, nil)
	find(t, m, h2, nil)
	if countReads(log) != reads {
		t.Fatal("certificates read again")
	}
	// operations on the handle of another token are refused
	_, err = m.GetAttributeValue(h2, certs[0], []ck.ULong{ck.CKA_LABEL})
	wantRV(t, "object of another token", err, ck.CKR_OBJECT_HANDLE_INVALID)
	// find protocol errors
	_, err = m.FindObjects(h, 1)
	wantRV(t, "FindObjects without Init", err, ck.CKR_OPERATION_NOT_INITIALIZED)
	wantRV(t, "FindObjectsFinal without Init", m.FindObjectsFinal(h), ck.CKR_OPERATION_NOT_INITIALIZED)
	must(t, "FindObjectsInit", m.FindObjectsInit(h, nil))
	wantRV(t, "FindObjectsInit twice", m.FindObjectsInit(h, nil), ck.CKR_OPERATION_ACTIVE)
}

func TestLoginShowsPrivateObjects(t *testing.T) {
	m, _, c := setup(t, vcard.Options{})
	h := open(t, m, 1, false)
	h2 := open(t, m, 1, true)
	must(t, "Login", m.Login(h, ck.CKU_USER, []byte("ABC123")))
	wantRV(t, "Login again", m.Login(h2, ck.CKU_USER, []byte("ABC123")), ck.CKR_USER_ALREADY_LOGGED_IN)
	for _, s := range []struct {
		h    ck.ULong
		want ck.ULong
	}{{h, ck.CKS_RO_USER_FUNCTIONS}, {h2, ck.CKS_RW_USER_FUNCTIONS}} {
		si, err := m.SessionInfo(s.h)
		must(t, "SessionInfo", err)
		if si.State != s.want {
			t.Fatalf("session state %d, want %d", si.State, s.want)
		}
	}
	priv := find(t, m, h2, classTmpl(ck.CKO_PRIVATE_KEY))
	if len(priv) != 1 {
		t.Fatalf("private keys after login: %v", priv)
	}
	v, err := m.GetAttributeValue(h, priv[0], []ck.ULong{ck.CKA_PRIVATE_EXPONENT, ck.CKA_PRIME_1, ck.CKA_SENSITIVE,
		ck.CKA_EXTRACTABLE, ck.CKA_SIGN, ck.CKA_ALWAYS_AUTHENTICATE, ck.CKA_PRIVATE, ck.CKA_ID})
	must(t, "GetAttributeValue(private key)", err)
	if v[0].Err != ck.CKR_ATTRIBUTE_SENSITIVE || v[1].Err != ck.CKR_ATTRIBUTE_SENSITIVE ||
		!bytes.Equal(v[2].Value, []byte{1}) || !bytes.Equal(v[3].Value, []byte{0}) ||
		!bytes.Equal(v[4].Value, []byte{1}) || !bytes.Equal(v[5].Value, []byte{0}) ||
		!bytes.Equal(v[6].Value, []byte{1}) || !bytes.Equal(v[7].Value, []byte{2}) {
		t.Fatalf("private key attributes: %+v", v)
	}
	must(t, "Logout", m.Logout(h2))
	wantRV(t, "Logout twice", m.Logout(h), ck.CKR_USER_NOT_LOGGED_IN)
	if got := find(t, m, h, classTmpl(ck.CKO_PRIVATE_KEY)); len(got) != 0 {
		t.Fatal("private key visible after logout")
	}
	_, err = m.GetAttributeValue(h, priv[0], []ck.ULong{ck.CKA_LABEL})
	wantRV(t, "private object after logout", err, ck.CKR_OBJECT_HANDLE_INVALID)
	si, _ := m.SessionInfo(h)
	if si.State != ck.CKS_RO_PUBLIC_SESSION {
		t.Fatalf("state after logout %d", si.State)
	}
	_ = c
}

func TestSignatureTokenPrivateCertificate(t *testing.T) {
	m, _, c := setup(t, vcard.Options{})
	h := open(t, m, 1, false)
	must(t, "Login(sign)", m.Login(h, ck.CKU_USER, []byte("abc123"))) // folded to upper case
	got := labels(t, m, h, find(t, m, h, nil))
	want := []string{"Public Certificates Profile", "Digital Signature Certificate", "Digital Signature Public Key",
		"Digital Signature Key", "Digital Signature CA Certificate"}
	if !slices.Equal(got, want) {
		t.Fatalf("signature token after login: %q", got)
	}
	cert := find(t, m, h, []Attribute{{ck.CKA_CLASS, ck.EncodeULong(ck.CKO_CERTIFICATE)}, {ck.CKA_PRIVATE, []byte{1}}})
	if len(cert) != 1 || !bytes.Equal(attr(t, m, h, cert[0], ck.CKA_VALUE), c.Status().SignCert) {
		t.Fatal("signature certificate")
	}
	must(t, "Logout", m.Logout(h))
	got = labels(t, m, h, find(t, m, h, nil))
	if !slices.Equal(got, []string{"Public Certificates Profile", "Digital Signature CA Certificate"}) {
		t.Fatalf("after logout: %q", got)
	}
}
