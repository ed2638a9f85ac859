package objects

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/jpki-pkcs11/jpki-pkcs11/ck"
)

// ecSeed is a P-384 certificate for the fuzz corpus.
func ecSeed(f *testing.F) []byte {
	der, _ := ecCert(f, elliptic.P384())
	return der
}

func ecCert(t testing.TB, curve elliptic.Curve) ([]byte, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(99), Subject: pkix.Name{CommonName: "next holder"},
		NotBefore: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2036, 3, 31, 0, 0, 0, 0, time.UTC)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return der, key
}

// TestECKeyObjects: a P-384 certificate gives CKK_EC key objects with the curve
// in CKA_EC_PARAMS (the named curve's OID) and the point in CKA_EC_POINT (a DER
// OCTET STRING of 04||X||Y), no RSA attribute, the private scalar sensitive.
func TestECKeyObjects(t *testing.T) {
	der, key := ecCert(t, elliptic.P384())
	c, err := ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	if c.EC == nil || c.Pub != nil || c.KeyType() != ck.CKK_EC || c.Public() != c.EC {
		t.Fatalf("parsed %+v", c)
	}
	params, _ := hex.DecodeString("06052b81040022") // secp384r1
	x, y := key.X.FillBytes(make([]byte, 48)), key.Y.FillBytes(make([]byte, 48))
	point := append([]byte{0x04, 0x61, 0x04}, append(x, y...)...)
	mechs := []ck.ULong{ck.CKM_ECDSA, ck.CKM_ECDSA_SHA384}
	priv, _ := Build(specOf(t, AuthToken, KindPrivateKey), c, nil, mechs)
	pub, _ := Build(specOf(t, AuthToken, KindPublicKey), c, nil, mechs)
	for name, o := range map[string]*Object{"private": priv, "public": pub} {
		if !bytes.Equal(get(t, o, ck.CKA_KEY_TYPE), ck.EncodeULong(ck.CKK_EC)) ||
			!bytes.Equal(get(t, o, ck.CKA_EC_PARAMS), params) ||
			!bytes.Equal(get(t, o, ck.CKA_EC_POINT), point) ||
			!bytes.Equal(get(t, o, ck.CKA_PUBLIC_KEY_INFO), c.Cert.RawSubjectPublicKeyInfo) ||
			!bytes.Equal(get(t, o, ck.CKA_ALLOWED_MECHANISMS), append(ck.EncodeULong(ck.CKM_ECDSA), ck.EncodeULong(ck.CKM_ECDSA_SHA384)...)) {
			t.Fatalf("%s key attributes", name)
		}
		for _, typ := range []ck.ULong{ck.CKA_MODULUS, ck.CKA_MODULUS_BITS, ck.CKA_PUBLIC_EXPONENT} {
			if _, rv := o.Attr(typ); rv != ck.CKR_ATTRIBUTE_TYPE_INVALID {
				t.Errorf("%s EC key has RSA attribute %#x (%v)", name, typ, rv)
			}
		}
	}
	if _, rv := priv.Attr(ck.CKA_VALUE); rv != ck.CKR_ATTRIBUTE_SENSITIVE {
		t.Fatalf("private scalar: %v", rv)
	}
	if _, rv := priv.Attr(ck.CKA_PRIVATE_EXPONENT); rv != ck.CKR_ATTRIBUTE_TYPE_INVALID {
		t.Fatalf("an EC key with an RSA private part: %v", rv)
	}
	if !bytes.Equal(get(t, priv, ck.CKA_SIGN), []byte{1}) || !bytes.Equal(get(t, pub, ck.CKA_VERIFY), []byte{1}) ||
		!bytes.Equal(get(t, priv, ck.CKA_DERIVE), []byte{0}) {
		t.Fatal("EC key usage")
	}
	if cert, _ := Build(specOf(t, AuthToken, KindCert), c, nil, nil); !bytes.Equal(get(t, cert, ck.CKA_VALUE), der) {
		t.Fatal("certificate of an EC key")
	}
}

func TestECCurves(t *testing.T) {
	for _, tc := range []struct {
		curve  elliptic.Curve
		params string
		sig    int
	}{{elliptic.P256(), "06082a8648ce3d030107", 64}, {elliptic.P384(), "06052b81040022", 96}, {elliptic.P521(), "06052b81040023", 132}} {
		p, err := ECParams(tc.curve)
		if err != nil || hex.EncodeToString(p) != tc.params {
			t.Fatalf("%s: %x %v", tc.curve.Params().Name, p, err)
		}
		if c, ok := ECCurve(p); !ok || c != tc.curve || ECSignatureLen(c) != tc.sig {
			t.Fatalf("%s: curve %v %v", tc.curve.Params().Name, c, ok)
		}
	}
	for _, bad := range []string{"", "0605", "06052b8104002200", "06052b81040021"} {
		b, _ := hex.DecodeString(bad)
		if _, ok := ECCurve(b); ok {
			t.Errorf("ECCurve(%s) accepted", bad)
		}
	}
	der, _ := ecCert(t, elliptic.P224())
	if _, err := ParseCertificate(der); err == nil || !strings.Contains(err.Error(), "P-224") {
		t.Fatalf("a P-224 key: %v", err)
	}
}
