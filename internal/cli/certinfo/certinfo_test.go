package certinfo

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jpki-pkcs11/jpki-pkcs11/card"
)

func TestRenewalStart(t *testing.T) {
	for _, tc := range []struct{ notAfter, want string }{
		{"2029-02-17T14:59:59Z", "2028-11-17"}, // 23:59:59 JST
		{"2029-05-31T14:59:59Z", "2029-02-28"}, // clamped to the month's end
		{"2028-05-31T14:59:59Z", "2028-02-29"}, // leap year
		{"2029-01-10T15:00:00Z", "2028-10-11"}, // already the next day in JST
	} {
		na, _ := time.Parse(time.RFC3339, tc.notAfter)
		if got := RenewalStart(na).Format(time.DateOnly); got != tc.want {
			t.Errorf("RenewalStart(%s) = %s, want %s", tc.notAfter, got, tc.want)
		}
	}
}

func TestSummary(t *testing.T) {
	na, _ := time.Parse(time.RFC3339, "2029-02-17T14:59:59Z")
	c := &x509.Certificate{NotBefore: na.AddDate(-5, 0, 0), NotAfter: na}
	now := na.Add(-812*24*time.Hour - time.Hour)
	if got, want := ValidityOf(c, now).Summary(), "expires 2029-02-17 (812 days); renewal possible from 2028-11-17"; got != want {
		t.Errorf("Summary = %q, want %q", got, want)
	}
	v := ValidityOf(c, na.AddDate(0, -1, 0))
	if !v.RenewalOpen || v.Expired {
		t.Errorf("a month before expiry: %+v", v)
	}
	v = ValidityOf(c, na.Add(49*time.Hour))
	if !v.Expired || v.RenewalOpen || v.DaysLeft != -3 {
		t.Errorf("after expiry: %+v (%s)", v, v.Summary())
	}
}

func TestSignOutlivesAuth(t *testing.T) {
	now := time.Now()
	auth := &x509.Certificate{NotAfter: now.AddDate(1, 0, 0)}
	if SignOutlivesAuth(&x509.Certificate{NotAfter: now.AddDate(1, 0, 0)}, auth) {
		t.Error("equal expiry flagged")
	}
	if !SignOutlivesAuth(&x509.Certificate{NotAfter: now.AddDate(1, 0, 1)}, auth) {
		t.Error("longer signature certificate not flagged")
	}
	if SignOutlivesAuth(nil, auth) {
		t.Error("missing signature certificate flagged")
	}
}

// The real roots carry directory names (Japanese UTF-8) in subjectAltName and no
// holder attributes: parsing must skip them without error.
func TestHolderOfRealRoots(t *testing.T) {
	files, _ := filepath.Glob("roots/*.pem")
	if len(files) != 4 {
		t.Fatalf("%d root files, want 4", len(files))
	}
	for _, f := range files {
		cs, err := LoadCerts(f)
		if err != nil || len(cs) != 1 {
			t.Fatalf("%s: %v", f, err)
		}
		h, err := HolderOf(cs[0])
		if err != nil || !h.Empty() {
			t.Errorf("%s: holder %+v, err %v", f, h, err)
		}
	}
	if n := len(JPKIRoots().Subjects()); n != 4 { //nolint:staticcheck // counting only
		t.Errorf("JPKIRoots has %d certificates, want 4", n)
	}
}

func encodeOtherName(t *testing.T, oid asn1.ObjectIdentifier, v string, params string) []byte {
	t.Helper()
	val, err := asn1.MarshalWithParams(v, params)
	if err != nil {
		t.Fatal(err)
	}
	o, _ := asn1.Marshal(oid)
	exp, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: val})
	b, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: append(o, exp...)})
	return b
}

func TestHolderOf(t *testing.T) {
	var names []byte
	dns, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 2, Bytes: []byte("example.jp")})
	names = append(names, dns...)
	names = append(names, encodeOtherName(t, card.OIDHolderName, "山田 太郎", "utf8")...)
	names = append(names, encodeOtherName(t, card.OIDHolderBirth, "319800217", "printable")...)
	names = append(names, encodeOtherName(t, card.OIDHolderSex, "1", "printable")...)
	names = append(names, encodeOtherName(t, card.OIDHolderAddress, "東京都千代田区千代田1-1", "utf8")...)
	names = append(names, encodeOtherName(t, card.OIDHolderAddressAlt, "0000000000000000000000", "printable")...)
	san, _ := asn1.Marshal(asn1.RawValue{Tag: asn1.TagSequence, IsCompound: true, Bytes: names})
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "t"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour),
		ExtraExtensions: []pkix.Extension{{Id: oidSAN, Value: san}}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	h, err := HolderOf(c)
	if err != nil {
		t.Fatal(err)
	}
	want := Holder{Name: "山田 太郎", Sex: "male", SexCode: "1", Birth: "1980-02-17", BirthRaw: "319800217", BirthEra: "Showa",
		Address: "東京都千代田区千代田1-1", AddressAlt: "0000000000000000000000"}
	if h != want {
		t.Errorf("HolderOf = %+v\nwant       %+v", h, want)
	}
}

func TestParseCerts(t *testing.T) {
	b, err := os.ReadFile("roots/auth_ca_2023.pem")
	if err != nil {
		t.Fatal(err)
	}
	cs, err := ParseCerts(append(b, b...))
	if err != nil || len(cs) != 2 {
		t.Fatalf("two PEM blocks: %d, %v", len(cs), err)
	}
	if _, err := ParseCerts(cs[0].Raw); err != nil {
		t.Fatalf("DER: %v", err)
	}
	if _, err := ParseCerts([]byte("junk")); err == nil {
		t.Fatal("junk parsed")
	}
}
