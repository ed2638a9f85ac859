package session

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/jpki-pkcs11/jpki-pkcs11/ck"
	"github.com/jpki-pkcs11/jpki-pkcs11/vcard"
)

func TestSessionHandles(t *testing.T) {
	m, _, c := setup(t, vcard.Options{})
	_, err := m.OpenSession(0, 0)
	wantRV(t, "OpenSession without CKF_SERIAL_SESSION", err, ck.CKR_SESSION_PARALLEL_NOT_SUPPORTED)
	_, err = m.OpenSession(9, ck.CKF_SERIAL_SESSION)
	wantRV(t, "OpenSession(bad slot)", err, ck.CKR_SLOT_ID_INVALID)
	seen := map[ck.ULong]bool{}
	for range 5 {
		h := open(t, m, 0, false)
		if seen[h] {
			t.Fatalf("handle %d reused", h)
		}
		seen[h] = true
		must(t, "CloseSession", m.CloseSession(h))
		wantRV(t, "CloseSession twice", m.CloseSession(h), ck.CKR_SESSION_HANDLE_INVALID)
		_, err := m.SessionInfo(h)
		wantRV(t, "closed session", err, ck.CKR_SESSION_HANDLE_INVALID)
	}
	_, err = m.SessionInfo(0)
	wantRV(t, "SessionInfo(0)", err, ck.CKR_SESSION_HANDLE_INVALID)

	// the last session closing logs the token out, on the card too
	a := open(t, m, 0, false)
	b := open(t, m, 0, true)
	s1 := open(t, m, 1, false)
	must(t, "Login", m.Login(a, ck.CKU_USER, []byte("1234")))
	ti, _ := m.TokenInfo(0)
	if ti.SessionCount != 2 || ti.RwSessionCount != 1 {
		t.Fatalf("session counts %d/%d", ti.SessionCount, ti.RwSessionCount)
	}
	must(t, "CloseSession", m.CloseSession(a))
	si, _ := m.SessionInfo(b)
	if si.State != ck.CKS_RW_USER_FUNCTIONS {
		t.Fatalf("login lost with a session still open: %d", si.State)
	}
	log := logAPDUs(c)
	must(t, "CloseAllSessions", m.CloseAllSessions(0))
	_, err = m.SessionInfo(b)
	wantRV(t, "after CloseAllSessions", err, ck.CKR_SESSION_HANDLE_INVALID)
	if len(log.cmds) == 0 {
		t.Fatal("closing the last session did not log the card out")
	}
	if _, err := m.SessionInfo(s1); err != nil {
		t.Fatal("CloseAllSessions(0) closed a session of slot 1")
	}
	c2 := open(t, m, 0, false)
	si, _ = m.SessionInfo(c2)
	if si.State != ck.CKS_RO_PUBLIC_SESSION {
		t.Fatalf("new session after close-all is logged in: %d", si.State)
	}
}

func TestRemovalAndReinsertion(t *testing.T) {
	m, sys, c := setup(t, vcard.Options{})
	a := open(t, m, 0, false)
	b := open(t, m, 1, false)
	must(t, "Login", m.Login(a, ck.CKU_USER, []byte("1234")))
	ti, _ := m.TokenInfo(0)
	certs := find(t, m, a, classTmpl(ck.CKO_CERTIFICATE))
	first := attr(t, m, a, certs[0], ck.CKA_VALUE)

	sys.Remove(reader0)
	_, err := m.SessionInfo(a)
	wantRV(t, "first call after removal", err, ck.CKR_DEVICE_REMOVED)
	_, err = m.SessionInfo(a)
	wantRV(t, "second call after removal", err, ck.CKR_SESSION_HANDLE_INVALID)
	wantRV(t, "other session, first call", m.FindObjectsInit(b, nil), ck.CKR_DEVICE_REMOVED)
	wantRV(t, "other session, second call", m.FindObjectsInit(b, nil), ck.CKR_SESSION_HANDLE_INVALID)
	_, err = m.TokenInfo(0)
	wantRV(t, "TokenInfo without card", err, ck.CKR_TOKEN_NOT_PRESENT)
	present, _ := m.SlotList(true)
	if len(present) != 0 {
		t.Fatalf("present %v", present)
	}

	// the same card back: token and objects back, logged out
	sys.Insert(reader0, c)
	h := open(t, m, 0, false)
	si, _ := m.SessionInfo(h)
	if si.State != ck.CKS_RO_PUBLIC_SESSION {
		t.Fatal("login survived a removal")
	}
	certs2 := find(t, m, h, classTmpl(ck.CKO_CERTIFICATE))
	if len(certs2) != 2 || !bytes.Equal(attr(t, m, h, certs2[0], ck.CKA_VALUE), first) {
		t.Fatal("objects not back after re-insertion")
	}
	if certs2[0] == certs[0] {
		t.Fatal("object handles reused across insertions")
	}
	_, err = m.GetAttributeValue(h, certs[0], []ck.ULong{ck.CKA_VALUE})
	wantRV(t, "old insertion's handle", err, ck.CKR_OBJECT_HANDLE_INVALID)

	// another card in its place: never the first card's objects
	sys.Remove(reader0)
	other := newVCard(t, vcard.Options{})
	sys.Insert(reader0, other)
	h2 := open(t, m, 0, false)
	c3 := find(t, m, h2, []Attribute{{ck.CKA_CLASS, ck.EncodeULong(ck.CKO_CERTIFICATE)}, {ck.CKA_ID, []byte{1}}})
	if !bytes.Equal(attr(t, m, h2, c3[0], ck.CKA_VALUE), other.Status().AuthCert) {
		t.Fatal("the new card shows another card's certificate")
	}
	ti2, _ := m.TokenInfo(0)
	if ti2.SerialNumber == ti.SerialNumber {
		t.Fatal("the new card has the old card's serial")
	}
}

func TestRemovalDuringSignature(t *testing.T) {
	m, sys, _ := setup(t, vcard.Options{})
	h, priv, _ := loggedIn(t, m, 0, "1234")
	must(t, "SignInit", m.SignInit(h, Mechanism{Type: ck.CKM_SHA256_RSA_PKCS}, priv))
	// pulled between our status check and the card operation: the transport says so
	sys.mu.Lock()
	for _, tr := range sys.conns[reader0] {
		tr.(*vcard.Transport).Remove()
	}
	sys.mu.Unlock()
	_, err := m.Sign(h, []byte("data"))
	wantRV(t, "Sign on a pulled card", err, ck.CKR_DEVICE_REMOVED)
	_, err = m.SessionInfo(h)
	wantRV(t, "after", err, ck.CKR_SESSION_HANDLE_INVALID)
}

func TestTwoReadersConcurrently(t *testing.T) {
	sys := newFakeSystem("R0", "R1")
	sys.Insert("R0", newVCard(t, vcard.Options{}))
	sys.Insert("R1", newVCard(t, vcard.Options{}))
	m := newManager(t, sys)
	present, _ := m.SlotList(true)
	if len(present) != 4 {
		t.Fatalf("present %v", present)
	}
	type tok struct {
		slot ck.ULong
		pin  string
	}
	toks := []tok{{0, "1234"}, {1, "ABC123"}, {2, "1234"}, {3, "ABC123"}}
	keys := map[ck.ULong]ck.ULong{}
	for _, tk := range toks {
		h, priv, _ := loggedIn(t, m, tk.slot, tk.pin)
		keys[tk.slot] = priv
		_ = h
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tk := toks[i%4]
			h, err := m.OpenSession(tk.slot, ck.CKF_SERIAL_SESSION)
			if err != nil {
				errs <- err
				return
			}
			defer m.CloseSession(h)
			for range 5 {
				if err := m.SignInit(h, Mechanism{Type: ck.CKM_SHA256_RSA_PKCS}, keys[tk.slot]); err != nil {
					errs <- err
					return
				}
				if _, err := m.Sign(h, []byte("x")); err != nil {
					errs <- err
					return
				}
				if err := m.FindObjectsInit(h, nil); err != nil {
					errs <- err
					return
				}
				if _, err := m.FindObjects(h, 10); err != nil {
					errs <- err
					return
				}
				m.FindObjectsFinal(h)
				if _, err := m.TokenInfo(tk.slot); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestStressWithRemovals(t *testing.T) {
	m, sys, c := setup(t, vcard.Options{})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			slot := ck.ULong(i % 2)
			pin := []byte("1234")
			if slot == 1 {
				pin = []byte("ABC123")
			}
			for {
				select {
				case <-stop:
					return
				default:
				}
				h, err := m.OpenSession(slot, ck.CKF_SERIAL_SESSION)
				if err != nil {
					continue
				}
				m.Login(h, ck.CKU_USER, pin)
				m.FindObjectsInit(h, classTmpl(ck.CKO_PRIVATE_KEY))
				objs, _ := m.FindObjects(h, 5)
				m.FindObjectsFinal(h)
				for _, o := range objs {
					if m.SignInit(h, Mechanism{Type: ck.CKM_SHA256_RSA_PKCS}, o) == nil {
						m.Sign(h, []byte("x"))
					}
					m.GetAttributeValue(h, o, []ck.ULong{ck.CKA_MODULUS, ck.CKA_LABEL})
				}
				m.Logout(h)
				m.CloseSession(h)
			}
		}()
	}
	deadline := time.Now().Add(1500 * time.Millisecond)
	for time.Now().Before(deadline) {
		time.Sleep(40 * time.Millisecond)
		sys.Remove(reader0)
		m.SlotList(true)
		time.Sleep(10 * time.Millisecond)
		sys.Insert(reader0, c)
	}
	close(stop)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("deadlock: workers did not stop")
	}
	// the card works afterwards and its counters are intact
	h, priv, _ := loggedIn(t, m, 0, "1234")
	must(t, "SignInit", m.SignInit(h, Mechanism{Type: ck.CKM_SHA256_RSA_PKCS}, priv))
	if _, err := m.Sign(h, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if st := c.Status(); st.AuthTries != 3 || st.SignTries != 5 {
		t.Fatalf("counters after the stress: %+v", st)
	}
}

func TestAnotherApplicationHoldsTheCard(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the virtual card's transaction bound (3 s); run without -short")
	}
	m, _, c := setup(t, vcard.Options{})
	h, priv, _ := loggedIn(t, m, 0, "1234")
	other := vcard.NewTransport(c)
	if err := other.Begin(); err != nil {
		t.Fatal(err)
	}
	must(t, "SignInit", m.SignInit(h, Mechanism{Type: ck.CKM_SHA256_RSA_PKCS}, priv))
	start := time.Now()
	_, err := m.Sign(h, []byte("x"))
	wantRV(t, "Sign while another application holds the card", err, ck.CKR_DEVICE_ERROR)
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("waited %v", d)
	}
	other.End()
	must(t, "SignInit", m.SignInit(h, Mechanism{Type: ck.CKM_SHA256_RSA_PKCS}, priv))
	if _, err := m.Sign(h, []byte("x")); err != nil {
		t.Fatalf("after the other application let go: %v", err)
	}
}

func TestRemovalWhileReadingACertificate(t *testing.T) {
	m, sys, c := setup(t, vcard.Options{})
	h := open(t, m, 0, false)
	reads := 0
	c.SetAPDULog(func(cmd, resp []byte) {
		if len(cmd) > 1 && cmd[1] == 0xB0 {
			if reads++; reads == 3 {
				go sys.Remove(reader0) // pulled between two READ BINARY
				time.Sleep(20 * time.Millisecond)
			}
		}
	})
	err := m.FindObjectsInit(h, classTmpl(ck.CKO_CERTIFICATE))
	wantRV(t, "FindObjectsInit with the card pulled mid-read", err, ck.CKR_DEVICE_REMOVED)
	_, err = m.SessionInfo(h)
	wantRV(t, "afterwards", err, ck.CKR_SESSION_HANDLE_INVALID)
	c.SetAPDULog(nil)
	sys.Insert(reader0, c)
	h2 := open(t, m, 0, false)
	certs := find(t, m, h2, classTmpl(ck.CKO_CERTIFICATE))
	if len(certs) != 2 || !bytes.Equal(attr(t, m, h2, certs[0], ck.CKA_VALUE), c.Status().AuthCert) {
		t.Fatal("certificate not whole after re-insertion")
	}
}
