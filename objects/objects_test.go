package objects

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"testing"
	"time"

	"github.com/jpki-pkcs11/jpki-pkcs11/ck"
)

func testCert(t *testing.T, serial *big.Int) (*Certificate, []byte) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "test holder", Country: []string{"JP"}},
		NotBefore:    time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:     time.Date(2030, 3, 31, 23, 59, 59, 0, time.UTC),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, der
}

func get(t *testing.T, o *Object, typ ck.ULong) []byte {
	t.Helper()
	v, rv := o.Attr(typ)
	if rv != ck.CKR_OK {
		t.Fatalf("attribute %#x: %v", typ, rv)
	}
	return v
}

func TestCertificateObject(t *testing.T) {
	c, der := testCert(t, big.NewInt(0x1234567))
	o, err := Build(specOf(t, AuthToken, KindCert), c, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantSerial, _ := asn1.Marshal(big.NewInt(0x1234567))
	for _, tc := range []struct {
		typ  ck.ULong
		want []byte
	}{
		{ck.CKA_CLASS, ck.EncodeULong(ck.CKO_CERTIFICATE)},
		{ck.CKA_CERTIFICATE_TYPE, ck.EncodeULong(ck.CKC_X_509)},
		{ck.CKA_TOKEN, []byte{1}},
		{ck.CKA_PRIVATE, []byte{0}},
		{ck.CKA_MODIFIABLE, []byte{0}},
		{ck.CKA_TRUSTED, []byte{0}},
		{ck.CKA_VALUE, der},
		{ck.CKA_SUBJECT, c.Cert.RawSubject},
		{ck.CKA_ISSUER, c.Cert.RawIssuer},
		{ck.CKA_SERIAL_NUMBER, wantSerial},
		{ck.CKA_ID, AuthID},
		{ck.CKA_CERTIFICATE_CATEGORY, ck.EncodeULong(ck.CK_CERTIFICATE_CATEGORY_TOKEN_USER)},
		{ck.CKA_START_DATE, []byte("20250401")},
		{ck.CKA_END_DATE, []byte("20300331")},
		{ck.CKA_URL, nil},
		{ck.CKA_LABEL, []byte("User Authentication Certificate")},
	} {
		if got := get(t, o, tc.typ); !bytes.Equal(got, tc.want) {
			t.Errorf("attribute %#x = %x, want %x", tc.typ, got, tc.want)
		}
	}
	if _, rv := o.Attr(ck.CKA_MODULUS); rv != ck.CKR_ATTRIBUTE_TYPE_INVALID {
		t.Fatalf("CKA_MODULUS of a certificate: %v", rv)
	}
	ca, err := Build(specOf(t, AuthToken, KindCACert), nil, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(get(t, ca, ck.CKA_CERTIFICATE_CATEGORY), ck.EncodeULong(ck.CK_CERTIFICATE_CATEGORY_AUTHORITY)) {
		t.Fatal("CA certificate category")
	}
	if _, err := Build(specOf(t, AuthToken, KindCert), nil, nil, nil); err == nil {
		t.Fatal("built a certificate object without a certificate")
	}
	if _, err := ParseCertificate([]byte{0x30, 0x03, 0x02, 0x01, 0x01}); err == nil {
		t.Fatal("parsed garbage")
	}
}

func TestKeyObjects(t *testing.T) {
	c, _ := testCert(t, big.NewInt(7))
	mechs := []ck.ULong{ck.CKM_RSA_PKCS, ck.CKM_SHA256_RSA_PKCS}
	priv, _ := Build(specOf(t, SignToken, KindPrivateKey), c, nil, mechs)
	pub, _ := Build(specOf(t, SignToken, KindPublicKey), c, nil, mechs)
	for _, o := range []*Object{priv, pub} {
		if !bytes.Equal(get(t, o, ck.CKA_MODULUS), c.Pub.N.Bytes()) ||
			!bytes.Equal(get(t, o, ck.CKA_PUBLIC_EXPONENT), []byte{1, 0, 1}) ||
			!bytes.Equal(get(t, o, ck.CKA_MODULUS_BITS), ck.EncodeULong(2048)) ||
			!bytes.Equal(get(t, o, ck.CKA_KEY_TYPE), ck.EncodeULong(ck.CKK_RSA)) ||
			!bytes.Equal(get(t, o, ck.CKA_ID), SignID) ||
			!bytes.Equal(get(t, o, ck.CKA_PRIVATE), []byte{1}) {
			t.Fatal("key attributes")
		}
		am := get(t, o, ck.CKA_ALLOWED_MECHANISMS)
		if len(am) != 2*ck.ULongSize {
			t.Fatalf("allowed mechanisms %x", am)
		}
	}
	for typ, want := range map[ck.ULong]byte{ck.CKA_SIGN: 1, ck.CKA_SENSITIVE: 1, ck.CKA_EXTRACTABLE: 0,
		ck.CKA_ALWAYS_SENSITIVE: 1, ck.CKA_NEVER_EXTRACTABLE: 1, ck.CKA_ALWAYS_AUTHENTICATE: 0,
		ck.CKA_DECRYPT: 0, ck.CKA_UNWRAP: 0, ck.CKA_SIGN_RECOVER: 0, ck.CKA_DERIVE: 0} {
		if v := get(t, priv, typ); !bytes.Equal(v, []byte{want}) {
			t.Errorf("private key attribute %#x = %x, want %x", typ, v, want)
		}
	}
	for _, typ := range []ck.ULong{ck.CKA_PRIVATE_EXPONENT, ck.CKA_PRIME_1, ck.CKA_PRIME_2, ck.CKA_EXPONENT_1,
		ck.CKA_EXPONENT_2, ck.CKA_COEFFICIENT} {
		if _, rv := priv.Attr(typ); rv != ck.CKR_ATTRIBUTE_SENSITIVE {
			t.Errorf("private part %#x: %v", typ, rv)
		}
	}
	if !bytes.Equal(get(t, pub, ck.CKA_VERIFY), []byte{1}) || !bytes.Equal(get(t, pub, ck.CKA_ENCRYPT), []byte{0}) {
		t.Fatal("public key usage")
	}
	if _, rv := pub.Attr(ck.CKA_SIGN); rv != ck.CKR_ATTRIBUTE_TYPE_INVALID {
		t.Fatal("public key has CKA_SIGN")
	}
	// template matching: exact bytes; a sensitive attribute never matches
	if !priv.Match([]Template{{ck.CKA_CLASS, ck.EncodeULong(ck.CKO_PRIVATE_KEY)}, {ck.CKA_SIGN, []byte{1}}}) {
		t.Fatal("private key does not match its class")
	}
	if priv.Match([]Template{{ck.CKA_SIGN, []byte{1, 0}}}) || priv.Match([]Template{{ck.CKA_PRIVATE_EXPONENT, nil}}) ||
		priv.Match([]Template{{0x7FFF0000, nil}}) {
		t.Fatal("bad template matched")
	}
	if !priv.Match(nil) {
		t.Fatal("empty template")
	}
}

func TestProfileAndLayout(t *testing.T) {
	p, err := Build(specOf(t, AuthToken, KindProfile), nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(get(t, p, ck.CKA_PROFILE_ID), ck.EncodeULong(ck.CKP_PUBLIC_CERTIFICATES_TOKEN)) ||
		!bytes.Equal(get(t, p, ck.CKA_CLASS), ck.EncodeULong(ck.CKO_PROFILE)) {
		t.Fatal("profile")
	}
	// design "one PIN for one job" (docs/ONE-PIN.md): both tokens are friendly to
	// NSS; the signature token hides everything personal behind its login; the
	// authentication token needs no login and its key wants a context login
	for _, tok := range []Token{AuthToken, SignToken} {
		if specOf(t, tok, KindProfile).Class != ck.CKO_PROFILE {
			t.Fatalf("token %d has no profile", tok)
		}
	}
	for _, s := range Layout(SignToken) {
		if (s.Kind == KindCert || s.Kind == KindPublicKey || s.Kind == KindPrivateKey) != s.Private || s.AlwaysAuth {
			t.Fatalf("signature token %s: private=%v always-auth=%v", s.Label, s.Private, s.AlwaysAuth)
		}
	}
	for _, s := range Layout(AuthToken) {
		if s.Private || s.AlwaysAuth != (s.Kind == KindPrivateKey) {
			t.Fatalf("auth token %s: private=%v always-auth=%v", s.Label, s.Private, s.AlwaysAuth)
		}
	}
	if LoginRequired(AuthToken) || !LoginRequired(SignToken) {
		t.Fatal("LoginRequired: want the signature token only")
	}
	c, _ := testCert(t, big.NewInt(9))
	ak, err := Build(specOf(t, AuthToken, KindPrivateKey), c, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(get(t, ak, ck.CKA_ALWAYS_AUTHENTICATE), []byte{1}) || !bytes.Equal(get(t, ak, ck.CKA_PRIVATE), []byte{0}) {
		t.Fatal("authentication key: want CKA_ALWAYS_AUTHENTICATE true, CKA_PRIVATE false")
	}
	cls := []Template{{ck.CKA_CLASS, ck.EncodeULong(ck.CKO_CERTIFICATE)}}
	if ClassMatches(cls, specOf(t, AuthToken, KindPublicKey)) || !ClassMatches(cls, specOf(t, AuthToken, KindCert)) {
		t.Fatal("ClassMatches")
	}
}

func TestSerialFromHead(t *testing.T) {
	for _, sn := range []*big.Int{big.NewInt(1), big.NewInt(0x1234567), new(big.Int).Lsh(big.NewInt(1), 150)} {
		_, der := testCertNoKey(t, sn)
		got, ok := SerialFromHead(der[:40])
		if !ok || !bytes.Equal(got, sn.Bytes()) {
			t.Fatalf("serial %x: got %x, %v", sn, got, ok)
		}
	}
	for _, bad := range [][]byte{nil, {0x30}, {0x30, 0x82, 0x01}, {0x31, 0x03, 0x02, 0x01, 0x01}, {0x30, 0x80, 0x30, 0x80}} {
		if _, ok := SerialFromHead(bad); ok {
			t.Fatalf("accepted %x", bad)
		}
	}
}

var sharedKey *rsa.PrivateKey

func testCertNoKey(t *testing.T, serial *big.Int) (*Certificate, []byte) {
	t.Helper()
	if sharedKey == nil {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		sharedKey = k
	}
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: "x"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &sharedKey.PublicKey, sharedKey)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := ParseCertificate(der)
	return c, der
}

func FuzzSerialFromHead(f *testing.F) {
	f.Add([]byte{0x30, 0x82, 0x01, 0x00, 0x30, 0x82, 0x00, 0xF0, 0xA0, 0x03, 0x02, 0x01, 0x02, 0x02, 0x01, 0x05})
	f.Fuzz(func(t *testing.T, b []byte) {
		sn, ok := SerialFromHead(b)
		if ok && len(sn) == 0 {
			t.Fatal("empty serial accepted")
		}
	})
}

// specOf is the spec of the object of kind k in token tok's layout.
func specOf(t *testing.T, tok Token, k Kind) Spec {
	t.Helper()
	for _, s := range Layout(tok) {
		if s.Kind == k {
			return s
		}
	}
	t.Fatalf("token %d has no object of kind %d", tok, k)
	return Spec{}
}

func TestWith(t *testing.T) {
	c, _ := testCert(t, big.NewInt(11))
	o, err := Build(specOf(t, AuthToken, KindPrivateKey), c, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	o2 := o.With(ck.CKA_ALWAYS_AUTHENTICATE, ck.Bool(false))
	if !bytes.Equal(get(t, o, ck.CKA_ALWAYS_AUTHENTICATE), []byte{1}) ||
		!bytes.Equal(get(t, o2, ck.CKA_ALWAYS_AUTHENTICATE), []byte{0}) {
		t.Fatal("With changed the original or did not change the copy")
	}
	if _, rv := o2.Attr(ck.CKA_PRIME_1); rv != ck.CKR_ATTRIBUTE_SENSITIVE || o2.Class != o.Class {
		t.Fatal("With lost the object's other properties")
	}
}
