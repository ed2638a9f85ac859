package session

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"slices"
	"testing"

	"github.com/jpki-pkcs11/jpki-pkcs11/card"
	"github.com/jpki-pkcs11/jpki-pkcs11/ck"
	"github.com/jpki-pkcs11/jpki-pkcs11/objects"
	"github.com/jpki-pkcs11/jpki-pkcs11/vcard"
)

// TestAndroidPhoneTokens: the Android smartphone certificate shows two tokens
// named for a smartphone; the authentication token requires a login, lists only
// its CA certificate before it (EF 000A, which the phone refuses before the PIN,
// is not asked) and its certificate, public key and private key after it; the
// key signs after the login; the serial comes from the token info.
func TestAndroidPhoneTokens(t *testing.T) {
	m, _, c := setup(t, vcard.Options{Phone: vcard.PhoneAndroid, TokenSerial: "2050000300001234"})
	log := logAPDUs(c)
	slots, err := m.SlotList(true)
	must(t, "SlotList", err)
	if !slices.Equal(slots, []ck.ULong{0, 1}) {
		t.Fatalf("slots %v", slots)
	}
	for slot, label := range []string{PhoneAuthTokenLabel, PhoneSignTokenLabel} {
		ti, err := m.TokenInfo(ck.ULong(slot))
		must(t, "TokenInfo", err)
		if ti.Label != label || ti.Model != "Android phone" || ti.Flags&ck.CKF_LOGIN_REQUIRED == 0 || ti.SerialNumber != "2050000300001234" {
			t.Fatalf("slot %d: %+v", slot, ti)
		}
	}
	h := open(t, m, 0, false)
	got := labels(t, m, h, find(t, m, h, nil))
	if !slices.Equal(got, []string{"User Authentication CA Certificate"}) {
		t.Fatalf("objects before login: %q", got)
	}
	if log.selected(card.EFAuthCert) || slices.ContainsFunc(log.cmds, func(c []byte) bool { return len(c) > 2 && c[1] == 0xB0 && c[2] == 0x8A }) {
		t.Fatal("EF 000A was asked before the PIN")
	}
	cs, _, _, err := m.token(0)
	must(t, "token", err)
	wantRV(t, "SignInit with the hidden key before login", m.SignInit(h, Mechanism{Type: ck.CKM_SHA256_RSA_PKCS},
		cs.objectHandle(objects.AuthToken, 2)), ck.CKR_USER_NOT_LOGGED_IN)
	must(t, "Login", m.Login(h, ck.CKU_USER, []byte("1234")))
	got = labels(t, m, h, find(t, m, h, nil))
	want := []string{"User Authentication Certificate", "User Authentication Public Key", "User Authentication Key", "User Authentication CA Certificate"}
	if !slices.Equal(got, want) {
		t.Fatalf("objects after login: %q, want %q", got, want)
	}
	st := c.Status()
	cert := find(t, m, h, []Attribute{{ck.CKA_CLASS, ck.EncodeULong(ck.CKO_CERTIFICATE)}, {ck.CKA_ID, []byte{1}}})
	if len(cert) != 1 || !bytes.Equal(attr(t, m, h, cert[0], ck.CKA_VALUE), st.AuthCert) {
		t.Fatal("the certificate after login is not the phone's")
	}
	key := find(t, m, h, classTmpl(ck.CKO_PRIVATE_KEY))[0]
	if !bytes.Equal(attr(t, m, h, key, ck.CKA_PRIVATE), []byte{1}) || !bytes.Equal(attr(t, m, h, key, ck.CKA_ALWAYS_AUTHENTICATE), []byte{0}) {
		t.Fatal("the phone's authentication key is not a private, login-first key")
	}
	must(t, "SignInit", m.SignInit(h, Mechanism{Type: ck.CKM_SHA256_RSA_PKCS}, key))
	sig, err := m.Sign(h, []byte("phone"))
	must(t, "Sign", err)
	sum := sha256.Sum256([]byte("phone"))
	if err := rsa.VerifyPKCS1v15(certOf(t, st.AuthCert).PublicKey.(*rsa.PublicKey), crypto.SHA256, sum[:], sig); err != nil {
		t.Fatalf("the phone's signature does not verify: %v", err)
	}
	// after the logout the certificate is hidden again
	must(t, "Logout", m.Logout(h))
	if got := labels(t, m, h, find(t, m, h, nil)); len(got) != 1 {
		t.Fatalf("objects after logout: %q", got)
	}
}

// TestAndroidPhoneTokensAuthOnly: tokens=auth on a phone: the authentication
// token alone, still login-required with its certificate after the login.
func TestAndroidPhoneTokensAuthOnly(t *testing.T) {
	sys := newFakeSystem(reader0)
	sys.Insert(reader0, newVCard(t, vcard.Options{Phone: vcard.PhoneAndroid}))
	m, err := New(Config{System: sys, Tokens: AuthOnly})
	must(t, "New", err)
	t.Cleanup(m.Close)
	slots, err := m.SlotList(true)
	must(t, "SlotList", err)
	if !slices.Equal(slots, []ck.ULong{0}) {
		t.Fatalf("slots %v", slots)
	}
	h := open(t, m, 0, false)
	if n := len(find(t, m, h, nil)); n != 1 {
		t.Fatalf("%d objects before login", n)
	}
	must(t, "Login", m.Login(h, ck.CKU_USER, []byte("1234")))
	if n := len(find(t, m, h, nil)); n != 4 {
		t.Fatalf("%d objects after login", n)
	}
}

// TestNoTokenKinds: an iPhone's label, a card without the JPKI application this
// version knows, and a card without any My Number Card application show no
// token.
func TestNoTokenKinds(t *testing.T) {
	for _, o := range []vcard.Options{{Phone: vcard.PhoneIOS}, {Quirks: []string{vcard.QuirkNoJPKIAP}}} {
		m, _, _ := setup(t, o)
		slots, err := m.SlotList(true)
		must(t, "SlotList", err)
		if len(slots) != 0 {
			t.Fatalf("%+v: slots %v", o, slots)
		}
		wantRV(t, "TokenInfo", func() error { _, err := m.TokenInfo(0); return err }(), ck.CKR_TOKEN_NOT_PRESENT)
	}
}
