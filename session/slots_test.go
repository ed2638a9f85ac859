package session

import (
	"slices"
	"testing"
	"time"

	"github.com/jpki-pkcs11/jpki-pkcs11/ck"
	"github.com/jpki-pkcs11/jpki-pkcs11/vcard"
)

func TestSlotsAndTokenInfo(t *testing.T) {
	m, _, c := setup(t, vcard.Options{})
	all, err := m.SlotList(false)
	must(t, "SlotList(false)", err)
	if !slices.Equal(all, []ck.ULong{0, 1}) {
		t.Fatalf("slots %v, want [0 1]", all)
	}
	present, err := m.SlotList(true)
	must(t, "SlotList(true)", err)
	if !slices.Equal(present, []ck.ULong{0, 1}) {
		t.Fatalf("present slots %v, want [0 1]", present)
	}
	log := logAPDUs(c)
	si, err := m.SlotInfo(0)
	must(t, "SlotInfo", err)
	want := ck.CKF_TOKEN_PRESENT | ck.CKF_REMOVABLE_DEVICE | ck.CKF_HW_SLOT
	if si.Flags != want {
		t.Fatalf("slot flags %#x, want %#x", si.Flags, want)
	}
	ai, err := m.TokenInfo(0)
	must(t, "TokenInfo(0)", err)
	si1, err := m.TokenInfo(1)
	must(t, "TokenInfo(1)", err)
	if ai.Label == si1.Label || len(ai.Label) > 32 || len(si1.Label) > 32 {
		t.Fatalf("labels %q %q: want distinct, at most 32 bytes", ai.Label, si1.Label)
	}
	if len(ai.SerialNumber) != 16 || ai.SerialNumber != si1.SerialNumber || ai.SerialNumber == "0000000000000000" {
		t.Fatalf("serials %q %q", ai.SerialNumber, si1.SerialNumber)
	}
	if ai.MinPinLen != 4 || ai.MaxPinLen != 4 || si1.MinPinLen != 6 || si1.MaxPinLen != 16 {
		t.Fatalf("PIN lengths %d-%d and %d-%d", ai.MinPinLen, ai.MaxPinLen, si1.MinPinLen, si1.MaxPinLen)
	}
	// only the signature token requires a login (docs/ONE-PIN.md)
	base := ck.CKF_USER_PIN_INITIALIZED | ck.CKF_TOKEN_INITIALIZED | ck.CKF_WRITE_PROTECTED
	if ai.Flags != base || si1.Flags != base|ck.CKF_LOGIN_REQUIRED {
		t.Fatalf("token flags %#x %#x, want %#x %#x", ai.Flags, si1.Flags, base, base|ck.CKF_LOGIN_REQUIRED)
	}
	// After SlotList's identification, only the two PIN counters were read (no
	// try spent, no certificate read).
	if n := len(log.cmds); n == 0 || n > 4 || log.selected(0x000A) || log.selected(0x0001) {
		t.Fatalf("SlotInfo/TokenInfo after SlotList sent %x, want the two counters", log.cmds)
	}
	log.cmds = nil
	for range 10 {
		if _, err := m.TokenInfo(0); err != nil {
			t.Fatal(err)
		}
		if _, err := m.SlotInfo(1); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(log.cmds); n != 0 {
		t.Fatalf("polling TokenInfo sent %d APDUs, want 0", n)
	}
	_, err = m.TokenInfo(2)
	wantRV(t, "TokenInfo(2)", err, ck.CKR_SLOT_ID_INVALID)
	_, err = m.SlotInfo(7)
	wantRV(t, "SlotInfo(7)", err, ck.CKR_SLOT_ID_INVALID)
}

func TestColdListCostsFewAPDUs(t *testing.T) {
	sys := newFakeSystem(reader0)
	c := newVCard(t, vcard.Options{})
	sys.Insert(reader0, c)
	m := newManager(t, sys)
	log := logAPDUs(c)
	// what pkcs11-tool -L does
	slots, err := m.SlotList(true)
	must(t, "SlotList", err)
	for _, s := range slots {
		if _, err := m.SlotInfo(s); err != nil {
			t.Fatal(err)
		}
		if _, err := m.TokenInfo(s); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(log.cmds); n > 8 {
		t.Fatalf("cold list sent %d APDUs, want at most 8", n)
	}
	if countReads(log) != 3 || log.selected(0x0001) {
		t.Fatalf("listing read certificates: %x", log.cmds)
	}
	t.Logf("cold list: %d APDUs", len(log.cmds))
}

func countReads(l *apduLog) int {
	n := 0
	for _, c := range l.cmds {
		if len(c) >= 2 && c[1] == 0xB0 {
			n++
		}
	}
	return n
}

func TestUnder15AndJuki(t *testing.T) {
	sys := newFakeSystem("R0", "R1", "R2")
	sys.Insert("R0", newVCard(t, vcard.Options{Under15: true}))
	sys.Insert("R1", newVCard(t, vcard.Options{Juki: true}))
	m := newManager(t, sys)
	present, err := m.SlotList(true)
	must(t, "SlotList", err)
	if !slices.Equal(present, []ck.ULong{0}) {
		t.Fatalf("present %v, want [0] (under-15: auth only; Juki: none; empty reader: none)", present)
	}
	all, _ := m.SlotList(false)
	if len(all) != 6 {
		t.Fatalf("all slots %v", all)
	}
	for _, s := range []ck.ULong{1, 2, 3, 4, 5} {
		_, err := m.TokenInfo(s)
		wantRV(t, "TokenInfo", err, ck.CKR_TOKEN_NOT_PRESENT)
		_, err = m.OpenSession(s, ck.CKF_SERIAL_SESSION)
		wantRV(t, "OpenSession", err, ck.CKR_TOKEN_NOT_PRESENT)
		si, err := m.SlotInfo(s)
		must(t, "SlotInfo", err)
		if si.Flags&ck.CKF_TOKEN_PRESENT != 0 {
			t.Fatalf("slot %d says token present", s)
		}
	}
}

func TestSlotListNeverShrinksAndAppends(t *testing.T) {
	sys := newFakeSystem("A")
	sys.Insert("A", newVCard(t, vcard.Options{}))
	m := newManager(t, sys)
	all, _ := m.SlotList(false)
	if len(all) != 2 {
		t.Fatal(all)
	}
	sys.AddReader("B")
	c2 := newVCard(t, vcard.Options{})
	sys.Insert("B", c2)
	all, _ = m.SlotList(false)
	if !slices.Equal(all, []ck.ULong{0, 1, 2, 3}) {
		t.Fatalf("after adding a reader: %v", all)
	}
	a, _ := m.TokenInfo(0)
	b, _ := m.TokenInfo(2)
	if a.SerialNumber == b.SerialNumber {
		t.Fatalf("two cards with serial %q", a.SerialNumber)
	}
	// a reader that disappears keeps its slots (without a token)
	sys.mu.Lock()
	sys.readers = sys.readers[1:]
	sys.mu.Unlock()
	all, _ = m.SlotList(false)
	if len(all) != 4 {
		t.Fatalf("slot list shrank: %v", all)
	}
	_, err := m.TokenInfo(0)
	wantRV(t, "TokenInfo of a vanished reader", err, ck.CKR_TOKEN_NOT_PRESENT)
}

func TestWaitForSlotEvent(t *testing.T) {
	sys := newFakeSystem(reader0)
	m := newManager(t, sys)
	_, err := m.WaitForSlotEvent(true)
	wantRV(t, "WaitForSlotEvent(dontBlock)", err, ck.CKR_NO_EVENT)
	go func() {
		time.Sleep(50 * time.Millisecond)
		sys.Insert(reader0, newVCard(t, vcard.Options{}))
	}()
	slot, err := m.WaitForSlotEvent(false)
	must(t, "WaitForSlotEvent", err)
	if slot != 0 {
		t.Fatalf("event on slot %d", slot)
	}
	_, err = m.WaitForSlotEvent(true)
	wantRV(t, "no second event", err, ck.CKR_NO_EVENT)
	sys.Remove(reader0)
	slot, err = m.WaitForSlotEvent(true)
	must(t, "removal event", err)
	if slot != 0 {
		t.Fatalf("removal event on slot %d", slot)
	}
	done := make(chan error, 1)
	go func() {
		_, err := m.WaitForSlotEvent(false)
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	m.Close()
	select {
	case err := <-done:
		wantRV(t, "WaitForSlotEvent woken by Close", err, ck.CKR_CRYPTOKI_NOT_INITIALIZED)
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not wake WaitForSlotEvent")
	}
	_, err = m.SlotList(false)
	wantRV(t, "SlotList after Close", err, ck.CKR_CRYPTOKI_NOT_INITIALIZED)
}

func TestMechanisms(t *testing.T) {
	m, _, _ := setup(t, vcard.Options{})
	mechs, err := m.Mechanisms(0)
	must(t, "Mechanisms", err)
	for _, want := range []ck.ULong{ck.CKM_RSA_PKCS, ck.CKM_SHA1_RSA_PKCS, ck.CKM_SHA224_RSA_PKCS,
		ck.CKM_SHA256_RSA_PKCS, ck.CKM_SHA384_RSA_PKCS, ck.CKM_SHA512_RSA_PKCS, ck.CKM_SHA256} {
		if !slices.Contains(mechs, want) {
			t.Fatalf("mechanism %#x missing from %v", want, mechs)
		}
	}
	for _, mech := range mechs {
		mi, err := m.MechanismInfo(0, mech)
		must(t, "MechanismInfo", err)
		if mi.Flags&ck.CKF_SIGN != 0 && (mi.Flags&ck.CKF_VERIFY == 0 || mi.MinKeySize != 2048 || mi.MaxKeySize != 2048) {
			t.Fatalf("mechanism %#x: %+v", mech, mi)
		}
	}
	_, err = m.MechanismInfo(0, ck.CKM_AES_CBC)
	wantRV(t, "MechanismInfo(AES)", err, ck.CKR_MECHANISM_INVALID)
}

func TestOneTokenOnly(t *testing.T) {
	for _, tc := range []struct {
		tokens Tokens
		want   []ck.ULong
	}{{BothTokens, []ck.ULong{0, 1}}, {AuthOnly, []ck.ULong{0}}, {SignOnly, []ck.ULong{1}}} {
		sys := newFakeSystem(reader0)
		sys.Insert(reader0, newVCard(t, vcard.Options{}))
		m, err := New(Config{System: sys, Tokens: tc.tokens})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := m.SlotList(true)
		if !slices.Equal(got, tc.want) {
			t.Fatalf("Tokens %d: slots %v, want %v", tc.tokens, got, tc.want)
		}
		all, _ := m.SlotList(false)
		if len(all) != 2 {
			t.Fatalf("Tokens %d: all slots %v", tc.tokens, all)
		}
		m.Close()
	}
}
