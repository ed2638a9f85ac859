package session

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/jpki-pkcs11/jpki-pkcs11/card"
	"github.com/jpki-pkcs11/jpki-pkcs11/card/nextgen"
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
	if err != nil || lie == nil || len(cmd) <= 5 || !isSignCommand(cmd) ||
		len(resp) < 2 || !bytes.Equal(resp[len(resp)-2:], []byte{0x90, 0x00}) {
		return resp, err
	}
	return append(lie(resp[:len(resp)-2]), 0x90, 0x00), nil
}

// isSignCommand tells a signature command: today's (80 2A) or the next
// generation's PSO: COMPUTE DIGITAL SIGNATURE (00 2A 9E 9A, card/nextgen).
func isSignCommand(cmd []byte) bool {
	return cmd[0] == 0x80 && cmd[1] == 0x2A ||
		cmd[0] == 0x00 && cmd[1] == 0x2A && cmd[2] == nextgen.PSOCDSP1 && cmd[3] == nextgen.PSOCDSP2
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

// sigMech is a signature mechanism and the data a test signs with it.
type sigMech struct {
	name string
	m    Mechanism
	data []byte
}

// sigLie is what a lying card makes of a true signature.
type sigLie struct {
	name string
	lie  func(sig []byte) []byte
}

// refusesLies signs with mc on session h and key priv while sys tells each lie:
// Sign and SignFinal must answer CKR_DEVICE_ERROR and leave no operation behind;
// then the truthful card's signature must pass. It returns how many wrong
// signatures it made the module see (each one is logged).
func refusesLies(t *testing.T, m *Manager, sys *lyingSystem, h, priv ck.ULong, mc sigMech, lies []sigLie) int {
	t.Helper()
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
	return 2 * len(lies)
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
	mechs := []sigMech{
		{"SHA256-RSA-PKCS", Mechanism{Type: ck.CKM_SHA256_RSA_PKCS}, []byte("data")},
		{"RSA-PKCS", Mechanism{Type: ck.CKM_RSA_PKCS}, []byte("a raw input of the caller")},
		{"RSA-PKCS-PSS", pss, sum[:]},
	}
	var other []byte // a valid signature of other data by the same key
	lies := []sigLie{
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
	want := 0
	for _, mc := range mechs {
		want += refusesLies(t, m, sys, h, priv, mc, lies)
	}
	if n := strings.Count(logged.String(), "card returned a signature that does not verify"); n != want {
		t.Fatalf("%d log lines about a wrong signature, want %d:\n%s", n, want, logged.String())
	}
}

// TestWrongECDSASignatureFromCard: the check covers the next generation's
// ECDSA keys: an r||s from the card that does not verify with the certificate's
// P-384 key (random bytes, one flipped bit, r and s swapped, zeros, a valid
// signature of other data, all of the right length with 90 00) is never handed
// back, for CKM_ECDSA and ECDSA with a hash on the host, in one part and
// several: CKR_DEVICE_ERROR, logged, no operation left behind. Both keys; the
// same card's true signatures pass.
func TestWrongECDSASignatureFromCard(t *testing.T) {
	sys := &lyingSystem{fakeSystem: newFakeSystem(reader0)}
	sys.Insert(reader0, newVCard(t, nextGen))
	var logged logBuffer
	m, err := New(Config{System: sys, Log: slog.New(slog.NewTextHandler(&logged, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	sum := sha512.Sum384([]byte("data"))
	mechs := []sigMech{
		{"ECDSA", Mechanism{Type: ck.CKM_ECDSA}, sum[:]},
		{"ECDSA-SHA384", Mechanism{Type: ck.CKM_ECDSA_SHA384}, []byte("data")},
		{"ECDSA-SHA256", Mechanism{Type: ck.CKM_ECDSA_SHA256}, []byte("data")},
	}
	var other []byte
	lies := []sigLie{
		{"random bytes", func(sig []byte) []byte {
			r := make([]byte, len(sig))
			_, _ = rand.Read(r)
			return r
		}},
		{"one bit flipped", func(sig []byte) []byte {
			b := bytes.Clone(sig)
			b[len(b)/2+3] ^= 0x10
			return b
		}},
		{"r and s swapped", func(sig []byte) []byte { return append(bytes.Clone(sig[48:]), sig[:48]...) }},
		{"zeros", func(sig []byte) []byte { return make([]byte, len(sig)) }},
		{"another signature", func([]byte) []byte { return other }},
	}
	want := 0
	for _, key := range []struct {
		slot ck.ULong
		pin  string
	}{{0, "1234"}, {1, "ABC123"}} {
		h, priv, _ := loggedIn(t, m, key.slot, key.pin)
		must(t, "SignInit", m.SignInit(h, mechs[0].m, priv))
		other, err = m.Sign(h, make([]byte, 48))
		must(t, "Sign (other data)", err)
		for _, mc := range mechs {
			want += refusesLies(t, m, sys, h, priv, mc, lies)
		}
	}
	if n := strings.Count(logged.String(), "card returned a signature that does not verify"); n != want {
		t.Fatalf("%d log lines about a wrong signature, want %d:\n%s", n, want, logged.String())
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
	ec, _, ecCard := setup(t, nextGen)
	h, priv, _ = loggedIn(t, ec, 0, "1234")
	ecPub := certOf(t, ecCard.Status().AuthCert).PublicKey
	sum384 := sha512.Sum384([]byte("x"))
	must(t, "SignInit", ec.SignInit(h, Mechanism{Type: ck.CKM_ECDSA}, priv))
	ecSig, err := ec.Sign(h, sum384[:])
	must(t, "Sign", err)
	if err := checkSignature(card.SchemeECDSA, ecPub, sum384[:], ecSig); err != nil {
		t.Fatalf("a good ECDSA signature: %v", err)
	}
	if checkSignature(card.SchemeECDSA, ecPub, sum[:], ecSig) == nil {
		t.Fatal("an ECDSA signature of another hash passed")
	}
	if checkSignature(card.SchemePKCS1, ecPub, sum384[:], ecSig) == nil {
		t.Fatal("an ECDSA key with the PKCS#1 scheme passed")
	}
	if checkSignature(card.SchemeECDSA, pub, sum384[:], ecSig) == nil {
		t.Fatal("an RSA key with the ECDSA scheme passed")
	}
	if checkSignature(card.SchemeECDSA, ecPub, sum384[:], ecSig[:95]) == nil {
		t.Fatal("a short r||s passed")
	}
}
