package session

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/jpki-pkcs11/jpki-pkcs11/ck"
	"github.com/jpki-pkcs11/jpki-pkcs11/vcard"
)

func TestLoginErrorsAndCounters(t *testing.T) {
	m, _, c := setup(t, vcard.Options{})
	h := open(t, m, 0, false)
	hs := open(t, m, 1, false)
	log := logAPDUs(c)
	// malformed PINs never reach the card
	for _, pin := range []string{"", "123", "12345", "12a4", "１２３４", "12 4", "12\x004"} {
		wantRV(t, "malformed auth PIN", m.Login(h, ck.CKU_USER, []byte(pin)), ck.CKR_PIN_INCORRECT)
	}
	for _, pin := range []string{"", "ABC12", "ABCDEFGHIJ1234567", "ABC-123", "ABC 123"} {
		wantRV(t, "malformed sign PIN", m.Login(hs, ck.CKU_USER, []byte(pin)), ck.CKR_PIN_INCORRECT)
	}
	if len(log.cmds) != 0 {
		t.Fatalf("malformed PINs sent %d APDUs", len(log.cmds))
	}
	if st := c.Status(); st.AuthTries != 3 || st.SignTries != 5 {
		t.Fatalf("counters moved: %+v", st)
	}
	wantRV(t, "CKU_SO", m.Login(h, ck.CKU_SO, []byte("1234")), ck.CKR_USER_TYPE_INVALID)
	wantRV(t, "user type 7", m.Login(h, 7, []byte("1234")), ck.CKR_USER_TYPE_INVALID)
	wantRV(t, "CONTEXT_SPECIFIC outside an operation", m.Login(h, ck.CKU_CONTEXT_SPECIFIC, []byte("1234")), ck.CKR_OPERATION_NOT_INITIALIZED)

	// one wrong PIN: one try gone, the counter shows it
	wantRV(t, "wrong PIN", m.Login(h, ck.CKU_USER, []byte("9999")), ck.CKR_PIN_INCORRECT)
	if st := c.Status(); st.AuthTries != 2 {
		t.Fatalf("tries after one wrong PIN: %d", st.AuthTries)
	}
	ti, _ := m.TokenInfo(0)
	if ti.Flags&ck.CKF_USER_PIN_COUNT_LOW == 0 || ti.Flags&ck.CKF_USER_PIN_FINAL_TRY != 0 {
		t.Fatalf("flags after one wrong PIN: %#x", ti.Flags)
	}
	wantRV(t, "wrong PIN", m.Login(h, ck.CKU_USER, []byte("9999")), ck.CKR_PIN_INCORRECT)
	ti, _ = m.TokenInfo(0)
	if ti.Flags&ck.CKF_USER_PIN_FINAL_TRY == 0 {
		t.Fatalf("flags with one try left: %#x", ti.Flags)
	}
	// the right PIN resets the counter
	must(t, "Login", m.Login(h, ck.CKU_USER, []byte("1234")))
	ti, _ = m.TokenInfo(0)
	if ti.Flags&(ck.CKF_USER_PIN_FINAL_TRY|ck.CKF_USER_PIN_COUNT_LOW) != 0 {
		t.Fatalf("flags after a good login: %#x", ti.Flags)
	}
	if st := c.Status(); st.AuthTries != 3 {
		t.Fatalf("tries after a good PIN: %d", st.AuthTries)
	}
	// the signature token's login is separate
	si, _ := m.SessionInfo(hs)
	if si.State != ck.CKS_RO_PUBLIC_SESSION {
		t.Fatalf("signature session state %d after the auth login", si.State)
	}
}

func TestBlockedPIN(t *testing.T) {
	m, _, c := setup(t, vcard.Options{})
	h := open(t, m, 0, false)
	for i := range 3 {
		err := m.Login(h, ck.CKU_USER, []byte("0000"))
		want := ck.CKR_PIN_INCORRECT
		if i == 2 {
			want = ck.CKR_PIN_LOCKED // 63 C0: this try blocked it
		}
		wantRV(t, "wrong PIN", err, want)
	}
	ti, err := m.TokenInfo(0)
	must(t, "TokenInfo", err)
	if ti.Flags&ck.CKF_USER_PIN_LOCKED == 0 {
		t.Fatalf("flags %#x: want CKF_USER_PIN_LOCKED", ti.Flags)
	}
	log := logAPDUs(c)
	wantRV(t, "login on a blocked PIN", m.Login(h, ck.CKU_USER, []byte("1234")), ck.CKR_PIN_LOCKED)
	if len(log.cmds) != 0 {
		t.Fatal("a PIN was sent to a blocked counter")
	}
	// public objects stay readable
	if got := find(t, m, h, nil); len(got) != 5 {
		t.Fatalf("objects of a blocked token: %v", got)
	}

	// a fresh Manager (new process) sees the block from the card's counter
	sys := newFakeSystem(reader0)
	sys.Insert(reader0, c)
	m2 := newManager(t, sys)
	present, _ := m2.SlotList(true)
	if len(present) != 2 {
		t.Fatalf("blocked card: present slots %v", present)
	}
	ti, _ = m2.TokenInfo(0)
	if ti.Flags&ck.CKF_USER_PIN_LOCKED == 0 {
		t.Fatalf("new process: flags %#x", ti.Flags)
	}
}

func TestSetPIN(t *testing.T) {
	m, _, c := setup(t, vcard.Options{})
	ro := open(t, m, 0, false)
	rw := open(t, m, 0, true)
	wantRV(t, "SetPIN RO", m.SetPIN(ro, []byte("1234"), []byte("4321")), ck.CKR_SESSION_READ_ONLY)
	log := logAPDUs(c)
	wantRV(t, "SetPIN short new", m.SetPIN(rw, []byte("1234"), []byte("12")), ck.CKR_PIN_LEN_RANGE)
	wantRV(t, "SetPIN bad chars", m.SetPIN(rw, []byte("1234"), []byte("12ab")), ck.CKR_PIN_INVALID)
	wantRV(t, "SetPIN malformed old", m.SetPIN(rw, []byte("12"), []byte("4321")), ck.CKR_PIN_INCORRECT)
	if len(log.cmds) != 0 {
		t.Fatal("malformed PINs reached the card")
	}
	wantRV(t, "SetPIN wrong old", m.SetPIN(rw, []byte("1111"), []byte("4321")), ck.CKR_PIN_INCORRECT)
	must(t, "SetPIN", m.SetPIN(rw, []byte("1234"), []byte("4321")))
	si, _ := m.SessionInfo(rw)
	if si.State != ck.CKS_RW_PUBLIC_SESSION {
		t.Fatalf("SetPIN left the session in state %d", si.State)
	}
	wantRV(t, "old PIN", m.Login(rw, ck.CKU_USER, []byte("1234")), ck.CKR_PIN_INCORRECT)
	must(t, "new PIN", m.Login(rw, ck.CKU_USER, []byte("4321")))

	sg := open(t, m, 1, true)
	wantRV(t, "sign SetPIN long", m.SetPIN(sg, []byte("ABC123"), []byte("ABCDEFGHIJ12345678")), ck.CKR_PIN_LEN_RANGE)
	wantRV(t, "sign SetPIN bad chars", m.SetPIN(sg, []byte("ABC123"), []byte("ABC_123")), ck.CKR_PIN_INVALID)
	must(t, "sign SetPIN", m.SetPIN(sg, []byte("abc123"), []byte("newpass1")))
	must(t, "sign Login", m.Login(sg, ck.CKU_USER, []byte("NEWPASS1")))
}

func TestNoPINInLogs(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == "serial" { // random hex could hold "8642"
				return slog.Attr{}
			}
			return a
		}}))
	sys := newFakeSystem(reader0)
	sys.Insert(reader0, newVCard(t, vcard.Options{AuthPIN: "8642", SignPIN: "QZXWVY7"}))
	m, err := New(Config{System: sys, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	a := open(t, m, 0, true)
	s := open(t, m, 1, true)
	pins := []string{"8642", "9753", "864", "QZXWVY7", "qzxwvy7", "QZXWVJ8", "QZX-WV", "JKQWPXR9"}
	m.Login(a, ck.CKU_USER, []byte("864"))
	m.Login(a, ck.CKU_USER, []byte("9753"))
	m.Login(a, ck.CKU_USER, []byte("8642"))
	m.Login(s, ck.CKU_USER, []byte("QZX-WV"))
	m.Login(s, ck.CKU_USER, []byte("QZXWVJ8"))
	m.SetPIN(s, []byte("qzxwvy7"), []byte("QZX-WV"))
	m.SetPIN(s, []byte("qzxwvy7"), []byte("JKQWPXR9"))
	if buf.Len() == 0 {
		t.Fatal("nothing logged")
	}
	for _, p := range pins {
		if strings.Contains(strings.ToUpper(buf.String()), strings.ToUpper(p)) {
			t.Fatalf("PIN %q appears in the log:\n%s", p, buf.String())
		}
	}
}
