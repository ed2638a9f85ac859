package session

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/jpki-pkcs11/jpki-pkcs11/card"
	"github.com/jpki-pkcs11/jpki-pkcs11/ck"
	"github.com/jpki-pkcs11/jpki-pkcs11/vcard"
)

// lyingSystem wraps fakeSystem: while lie is set, its cards answer every signature
// command that carries data with what lie makes of the real signature, and 90 00.
type lyingSystem struct {
	*fakeSystem
	mu  sync.Mutex
	lie func(sig []byte) []byte
}

func (s *lyingSystem) Connect(reader string) (card.Transport, error) {
	t, err := s.fakeSystem.Connect(reader)
	if err != nil {
		return nil, err
	}
	return &lyingTransport{Transport: t, s: s}, nil
}

func (s *lyingSystem) setLie(f func(sig []byte) []byte) {
	s.mu.Lock()
	s.lie = f
	s.mu.Unlock()
}

type lyingTransport struct {
	card.Transport
	s *lyingSystem
}

func (t *lyingTransport) Transmit(cmd []byte) ([]byte, error) {
	resp, err := t.Transport.Transmit(cmd)
	t.s.mu.Lock()
	lie := t.s.lie
	t.s.mu.Unlock()
	if err != nil || lie == nil || len(cmd) <= 5 || cmd[0] != 0x80 || cmd[1] != 0x2A ||
		len(resp) < 2 || !bytes.Equal(resp[len(resp)-2:], []byte{0x90, 0x00}) {
		return resp, err
	}
	return append(lie(resp[:len(resp)-2]), 0x90, 0x00), nil
}

// logBuffer is a slog handler's output, safe for concurrent use.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestWrongSignatureFromCard: a signature from the card that does not verify with
// the certificate's public key (random bytes of the right length, one flipped bit,
// a valid signature of other data, all with 90 00) is never handed back: Sign and
// SignFinal answer CKR_DEVICE_ERROR and the module logs why, for PKCS#1 v1.5 (with
// and without the host's hash) and PSS. The same card's true signatures still pass,
// and a wrong one leaves no operation behind.
func TestWrongSignatureFromCard(t *testing.T) {
	sys := &lyingSystem{fakeSystem: newFakeSystem(reader0)}
	sys.Insert(reader0, newVCard(t, vcard.Options{}))
	var logged logBuffer
	m, err := New(Config{System: sys, Log: slog.New(slog.NewTextHandler(&logged, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	h, priv, _ := loggedIn(t, m, 0, "1234")
	sum := sha256.Sum256([]byte("data"))
	pss := Mechanism{Type: ck.CKM_RSA_PKCS_PSS, Param: PSSParams(ck.CKM_SHA256, ck.CKG_MGF1_SHA256, 32)}
	mechs := []struct {
		name string
		m    Mechanism
		data []byte
	}{
		{"SHA256-RSA-PKCS", Mechanism{Type: ck.CKM_SHA256_RSA_PKCS}, []byte("data")},
		{"RSA-PKCS", Mechanism{Type: ck.CKM_RSA_PKCS}, []byte("a raw input of the caller")},
		{"RSA-PKCS-PSS", pss, sum[:]},
	}
	var other []byte // a valid signature of other data by the same key
	lies := []struct {
		name string
		lie  func(sig []byte) []byte
	}{
		{"random bytes", func(sig []byte) []byte {
			r := make([]byte, len(sig))
			_, _ = rand.Read(r)
			return r
		}},
		{"one bit flipped", func(sig []byte) []byte {
			b := bytes.Clone(sig)
			b[len(b)/2] ^= 0x10
			return b
		}},
		{"another signature", func([]byte) []byte { return other }},
	}
	must(t, "SignInit", m.SignInit(h, mechs[0].m, priv))
	other, err = m.Sign(h, []byte("other data"))
	must(t, "Sign (other data)", err)
	for _, mc := range mechs {
		for _, l := range lies {
			sys.setLie(l.lie)
			must(t, "SignInit", m.SignInit(h, mc.m, priv))
			_, err := m.Sign(h, mc.data)
			wantRV(t, mc.name+", "+l.name+": Sign", err, ck.CKR_DEVICE_ERROR)
			_, err = m.Sign(h, mc.data)
			wantRV(t, mc.name+", "+l.name+": Sign after the wrong signature", err, ck.CKR_OPERATION_NOT_INITIALIZED)
			must(t, "SignInit", m.SignInit(h, mc.m, priv))
			must(t, "SignUpdate", m.SignUpdate(h, mc.data))
			_, err = m.SignFinal(h)
			wantRV(t, mc.name+", "+l.name+": SignFinal", err, ck.CKR_DEVICE_ERROR)
		}
		sys.setLie(nil)
		must(t, "SignInit", m.SignInit(h, mc.m, priv))
		_, err := m.Sign(h, mc.data)
		must(t, mc.name+": Sign with a truthful card", err)
	}
	if n := strings.Count(logged.String(), "card returned a signature that does not verify"); n != 2*len(mechs)*len(lies) {
		t.Fatalf("%d log lines about a wrong signature, want %d:\n%s", n, 2*len(mechs)*len(lies), logged.String())
	}
}

// TestCheckSignature: the check itself, for each scheme and key it knows, and its
// refusals (no key, an unknown scheme).
func TestCheckSignature(t *testing.T) {
	m, _, c := setup(t, vcard.Options{})
	h, priv, _ := loggedIn(t, m, 0, "1234")
	pub := certOf(t, c.Status().AuthCert).PublicKey
	sum := sha256.Sum256([]byte("x"))
	must(t, "SignInit", m.SignInit(h, Mechanism{Type: ck.CKM_SHA256_RSA_PKCS}, priv))
	sig, err := m.Sign(h, []byte("x"))
	must(t, "Sign", err)
	input := digestInfo(crypto.SHA256, sum[:])
	if err := checkSignature(card.SchemePKCS1, pub, input, sig); err != nil {
		t.Fatalf("a good PKCS#1 v1.5 signature: %v", err)
	}
	if checkSignature(card.SchemePSSSHA256, pub, sum[:], sig) == nil {
		t.Fatal("a PKCS#1 v1.5 signature passed as PSS")
	}
	if checkSignature(0x7F, pub, input, sig) == nil {
		t.Fatal("an unknown scheme passed")
	}
	if checkSignature(card.SchemePKCS1, nil, input, sig) == nil {
		t.Fatal("no public key passed")
	}
}
