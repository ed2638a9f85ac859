package vcard

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"sync"
	"testing"

	"github.com/jpki-pkcs11/jpki-pkcs11/card"
)

// fuzzCard is one in-memory card shared by the fuzz iterations (making a card
// generates RSA keys); resetFuzzCard puts it back to its fresh state.
var fuzzCard struct {
	once sync.Once
	c    *Card
	err  error
}

func sharedFuzzCard(t *testing.T) *Card {
	fuzzCard.once.Do(func() { fuzzCard.c, fuzzCard.err = NewInMemory(Options{}) })
	if fuzzCard.err != nil {
		t.Fatal(fuzzCard.err)
	}
	c := fuzzCard.c
	c.mu.Lock()
	defer c.mu.Unlock()
	c.st.AuthTries, c.st.SignTries = card.AuthKey.MaxTries(), card.SignKey.MaxTries()
	c.st.AuthPIN, c.st.SignPIN = "1234", "ABC123"
	c.resetLocked()
	return c
}

// splitAPDUs cuts a fuzz input into commands: a length byte, then that many bytes.
func splitAPDUs(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 && len(out) < 32 {
		n := min(int(b[0]), len(b)-1)
		out = append(out, b[1:1+n])
		b = b[1+n:]
	}
	return out
}

// FuzzProcess sends a fuzz-given sequence of arbitrary APDUs to the virtual card:
// never a panic, always a response of 2 to 258 bytes; retry counters move only on
// a VERIFY with data (down by one, or back to the maximum on 90 00), PINs change
// only on a successful CHANGE REFERENCE DATA, and the APDU log masks PIN bytes.
func FuzzProcess(f *testing.F) {
	ap := "\x0f\x00\xa4\x04\x0c\x0a\xd3\x92\xf0\x00\x26\x01\x00\x00\x00\x01"
	for _, s := range []string{
		"",
		ap,
		ap + "\x07\x00\xa4\x02\x0c\x02\x00\x0a" + "\x05\x00\xb0\x00\x00\x00",
		ap + "\x07\x00\xa4\x02\x0c\x02\x00\x18" + "\x09\x00\x20\x00\x80\x04" + "1234",
		ap + "\x07\x00\xa4\x02\x0c\x02\x00\x18" + "\x09\x00\x20\x00\x80\x04" + "9999" + "\x04\x00\x20\x00\x80",
		ap + "\x0b\x00\x20\x00\x9b\x06ABC123" + "\x0b\x00\x24\x01\x9b\x06XYZ789" + "\x05\x00\xb0\x81\x00\x04",
		ap + "\x09\x00\x20\x00\x98\x041234" + "\x0a\x80\x2a\x04\x97\x04abcd\x00",
		ap + "\x05\x00\xb0\x8a\x7f\xff" + "\x05\x00\xb0\x7f\xff\x00" + "\x06\x00\xb0\x00\x00\x00\x04",
		"\x02\x00\xa4" + "\x05\x00\x84\x00\x00\x00" + "\x07\xa0\xa4\x02\x0c\x02\x00\x0a",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, script []byte) {
		c := sharedFuzzCard(t)
		var logged [][]byte
		c.SetAPDULog(func(cmd, _ []byte) { logged = append(logged, cmd) })
		defer c.SetAPDULog(nil)
		for _, cmd := range splitAPDUs(script) {
			before := c.Status()
			c.mu.Lock()
			pins := [2]string{c.st.AuthPIN, c.st.SignPIN}
			c.mu.Unlock()
			logged = logged[:0]
			resp := c.Process(cmd)
			if len(resp) < 2 || len(resp) > 258 {
				t.Fatalf("% X: response of %d bytes", cmd, len(resp))
			}
			sw := uint16(resp[len(resp)-2])<<8 | uint16(resp[len(resp)-1])
			after := c.Status()
			isVerify := len(cmd) > 5 && cmd[0] == 0x00 && cmd[1] == 0x20
			for _, tr := range []struct{ b, a, max int }{
				{before.AuthTries, after.AuthTries, 3}, {before.SignTries, after.SignTries, 5}} {
				switch {
				case tr.a == tr.b:
				case tr.a < 0 || tr.a > tr.max:
					t.Fatalf("% X: tries %d out of range", cmd, tr.a)
				case !isVerify:
					t.Fatalf("% X (not a VERIFY with data) moved tries %d -> %d", cmd, tr.b, tr.a)
				case tr.a == tr.b-1 && sw&0xFFF0 == 0x63C0:
				case tr.a == tr.max && sw == 0x9000:
				default:
					t.Fatalf("% X: tries %d -> %d with SW %04X", cmd, tr.b, tr.a, sw)
				}
			}
			c.mu.Lock()
			changed := pins != [2]string{c.st.AuthPIN, c.st.SignPIN}
			c.mu.Unlock()
			if changed && !(len(cmd) > 5 && cmd[1] == 0x24 && sw == 0x9000) {
				t.Fatalf("% X changed a PIN (SW %04X)", cmd, sw)
			}
			if len(logged) != 1 || len(logged[0]) != len(cmd) {
				t.Fatalf("% X: logged %d commands", cmd, len(logged))
			}
			if len(cmd) > 5 && (cmd[1] == 0x20 || cmd[1] == 0x24) &&
				!bytes.Equal(logged[0][5:], bytes.Repeat([]byte{'*'}, len(cmd)-5)) {
				t.Fatalf("PIN bytes of % X not masked in the log: % X", cmd, logged[0])
			}
		}
	})
}

// FuzzSubjectAltNames decodes a fuzz-given subjectAltName extension: an error or
// a map, never a panic.
func FuzzSubjectAltNames(f *testing.F) {
	c := memCardF(f)
	cert, err := x509.ParseCertificate(c.Status().SignCert)
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range cert.Extensions {
		if e.Id.Equal(oidSubjectAltName) {
			f.Add(e.Value)
		}
	}
	f.Add([]byte{0x30, 0x03, 0xA0, 0x01, 0x06})
	f.Add([]byte{0x30, 0x80})
	f.Fuzz(func(t *testing.T, v []byte) {
		_, _ = SubjectAltNames(&x509.Certificate{Extensions: []pkix.Extension{{Id: oidSubjectAltName, Value: v}}})
	})
}

func memCardF(f *testing.F) *Card {
	fuzzCard.once.Do(func() { fuzzCard.c, fuzzCard.err = NewInMemory(Options{}) })
	if fuzzCard.err != nil {
		f.Fatal(fuzzCard.err)
	}
	return fuzzCard.c
}
