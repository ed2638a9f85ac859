package certinfo

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"testing"
)

// FuzzHolderOf decodes a fuzz-given subjectAltName extension value (the holder's
// attributes a hostile card's signature certificate would carry): an error or a
// Holder, never a panic.
func FuzzHolderOf(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0x30, 0x00})
	f.Add([]byte{0x30, 0x80})
	// otherName 1.2.392.200149.8.5.5.3 [0] UTF8String "1", then a BMPString of odd length.
	f.Add([]byte{0x30, 0x14, 0xA0, 0x12, 0x06, 0x0A, 0x2A, 0x83, 0x08, 0x8C, 0x9B, 0x55, 0x08, 0x05, 0x05, 0x03,
		0xA0, 0x04, 0x1E, 0x02, 0x00, 0x31})
	f.Add([]byte{0x30, 0x13, 0xA0, 0x11, 0x06, 0x0A, 0x2A, 0x83, 0x08, 0x8C, 0x9B, 0x55, 0x08, 0x05, 0x05, 0x04,
		0xA0, 0x03, 0x0C, 0x01, 0x31})
	f.Fuzz(func(t *testing.T, v []byte) {
		h, err := HolderOf(&x509.Certificate{Extensions: []pkix.Extension{{Id: oidSAN, Value: v}}})
		if err != nil && !h.Empty() {
			t.Fatalf("error %v with a non-empty holder %+v", err, h)
		}
	})
}
