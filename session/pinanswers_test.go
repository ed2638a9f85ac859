package session

import (
	"bytes"
	"sync"
	"testing"

	"github.com/jpki-pkcs11/jpki-pkcs11/card"
	"github.com/jpki-pkcs11/jpki-pkcs11/ck"
	"github.com/jpki-pkcs11/jpki-pkcs11/objects"
	"github.com/jpki-pkcs11/jpki-pkcs11/vcard"
)

// answering is a System over fakeSystem whose transports answer a chosen status
// word, instead of the card, to the commands that begin with a chosen prefix.
type answering struct {
	*fakeSystem
	mu    sync.Mutex
	rules map[string]uint16 // command prefix (bytes as a string) -> status word
}

func (a *answering) answer(prefix []byte, sw uint16) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.rules[string(prefix)] = sw
}

func (a *answering) clear() {
	a.mu.Lock()
	defer a.mu.Unlock()
	clear(a.rules)
}

func (a *answering) Connect(reader string) (card.Transport, error) {
	t, err := a.fakeSystem.Connect(reader)
	if err != nil {
		return nil, err
	}
	return answeringTransport{t, a}, nil
}

type answeringTransport struct {
	card.Transport
	a *answering
}

func (t answeringTransport) Transmit(cmd []byte) ([]byte, error) {
	t.a.mu.Lock()
	for p, sw := range t.a.rules {
		if bytes.HasPrefix(cmd, []byte(p)) {
			t.a.mu.Unlock()
			return []byte{byte(sw >> 8), byte(sw)}, nil
		}
	}
	t.a.mu.Unlock()
	return t.Transport.Transmit(cmd)
}

var (
	selectAuthPIN = []byte{0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x18}
	signCommand   = []byte{0x80, 0x2A, 0x00}
	readCACert    = []byte{0x00, 0xB0, 0x8B} // READ BINARY of EF 000B by short EF
	selectCACert  = []byte{0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x0B}
)

// TestPINStatusWordsOnlyFromPINCommands (issue 16, "PIN return codes leak out of
// calls that do not log in"): 63 Cx, 69 83 and 69 84 are a wrong or blocked PIN
// only in the card's answer to VERIFY with a PIN (or CHANGE REFERENCE DATA);
// anywhere else they are a device error, and C_GetTokenInfo, when it cannot
// read the PIN counter, answers CKR_OK without the counter flags.
func TestPINStatusWordsOnlyFromPINCommands(t *testing.T) {
	sys := &answering{fakeSystem: newFakeSystem(reader0), rules: map[string]uint16{}}
	sys.Insert(reader0, newVCard(t, vcard.Options{}))
	m, err := New(Config{System: sys})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	if _, err := m.SlotList(true); err != nil {
		t.Fatal(err)
	}

	// the SELECT of the PIN EF answers 63 C1 / 69 84: the counter is unknown, the
	// token info is still there
	for _, sw := range []uint16{0x63C1, 0x6984, 0x6983} {
		sys.answer(selectAuthPIN, sw)
		ti, err := m.TokenInfo(0)
		must(t, "TokenInfo with the PIN EF's SELECT answering a PIN status word", err)
		if ti.Flags&(ck.CKF_USER_PIN_COUNT_LOW|ck.CKF_USER_PIN_FINAL_TRY|ck.CKF_USER_PIN_LOCKED) != 0 {
			t.Fatalf("SW %04X to a SELECT: token flags %#x carry PIN counter flags", sw, ti.Flags)
		}
	}
	// a login whose PIN EF SELECT answers 63 C1: a device error, no counter change
	h := open(t, m, 0, false)
	wantRV(t, "Login with the PIN EF's SELECT answering 63 C1", m.Login(h, ck.CKU_USER, []byte("1234")), ck.CKR_DEVICE_ERROR)
	sys.clear()
	ti, err := m.TokenInfo(0)
	must(t, "TokenInfo", err)
	if ti.Flags&ck.CKF_USER_PIN_COUNT_LOW != 0 {
		t.Fatalf("token flags %#x: a SELECT's answer was taken for a wrong PIN", ti.Flags)
	}
	// reading the CA certificate (not read yet) answers 63 C2
	sys.answer(readCACert, 0x63C2)
	sys.answer(selectCACert, 0x63C2)
	cs, _, _, err := m.token(0)
	must(t, "token", err)
	_, err = m.GetAttributeValue(h, cs.objectHandle(objects.AuthToken, 4), []ck.ULong{ck.CKA_VALUE})
	wantRV(t, "GetAttributeValue with the certificate's read answering 63 C2", err, ck.CKR_DEVICE_ERROR)
	sys.clear()
	// a signature command answering 63 C2 or 69 84: a device error
	must(t, "Login", m.Login(h, ck.CKU_USER, []byte("1234")))
	key := find(t, m, h, classTmpl(ck.CKO_PRIVATE_KEY))[0]
	for _, sw := range []uint16{0x63C2, 0x6984, 0x6983} {
		sys.answer(signCommand, sw)
		must(t, "SignInit", m.SignInit(h, Mechanism{Type: ck.CKM_SHA256_RSA_PKCS}, key))
		_, err := m.Sign(h, []byte("data"))
		wantRV(t, "Sign with the card answering a PIN status word", err, ck.CKR_DEVICE_ERROR)
	}
	sys.clear()
	// the card's own refusal of a PIN still is a wrong PIN
	must(t, "Logout", m.Logout(h))
	wantRV(t, "Login with a wrong PIN", m.Login(h, ck.CKU_USER, []byte("0000")), ck.CKR_PIN_INCORRECT)
	ti, err = m.TokenInfo(0)
	must(t, "TokenInfo", err)
	if ti.Flags&ck.CKF_USER_PIN_COUNT_LOW == 0 {
		t.Fatalf("token flags %#x: a wrong PIN does not lower the count", ti.Flags)
	}
}
