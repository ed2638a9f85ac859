package objects

import (
	"bytes"
	"testing"

	"github.com/jpki-pkcs11/jpki-pkcs11/ck"
)

// FuzzCertificateObjects parses a fuzz-given certificate (what a hostile card's
// EF holds) and builds every object of both tokens from it: hostile DER gives an
// error, never a panic, and an accepted certificate gives objects whose
// attributes all answer and whose CKA_VALUE is the certificate.
func FuzzCertificateObjects(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0x30, 0x82, 0x7F, 0xFF})
	f.Add([]byte{0x30, 0x80, 0x00, 0x00})
	f.Add(ecSeed(f)) // the next generation's: ECDSA P-384
	f.Fuzz(func(t *testing.T, der []byte) {
		c, err := ParseCertificate(der)
		if err != nil {
			if c != nil {
				t.Fatal("certificate returned with an error")
			}
			return
		}
		mechs := []ck.ULong{ck.CKM_RSA_PKCS, ck.CKM_SHA256_RSA_PKCS}
		for _, tok := range []Token{AuthToken, SignToken} {
			for _, s := range Layout(tok) {
				o, err := Build(s, c, c, mechs)
				if err != nil {
					continue
				}
				for _, typ := range o.Types() {
					_, _ = o.Attr(typ)
				}
				if s.Kind == KindCert || s.Kind == KindCACert {
					if v, rv := o.Attr(ck.CKA_VALUE); rv != ck.CKR_OK || !bytes.Equal(v, der) {
						t.Fatalf("CKA_VALUE of %q: %d bytes, %v", s.Label, len(v), rv)
					}
				}
				_ = o.Match([]Template{{Type: ck.CKA_ID, Value: s.ID}})
			}
		}
	})
}
