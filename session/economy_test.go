package session

import (
	"testing"

	"github.com/jpki-pkcs11/jpki-pkcs11/ck"
	"github.com/jpki-pkcs11/jpki-pkcs11/vcard"
)

// TestAPDUEconomy counts the card round trips of the jobs of issue 8 (what
// pkcs11-tool does), so a change that adds APDUs shows up here.
func TestAPDUEconomy(t *testing.T) {
	c := newVCard(t, vcard.Options{})
	count := func(f func(m *Manager)) int {
		sys := newFakeSystem(reader0)
		sys.Insert(reader0, c)
		m := newManager(t, sys)
		log := logAPDUs(c)
		f(m)
		m.Close()
		c.SetAPDULog(nil)
		return len(log.cmds)
	}
	list := count(func(m *Manager) {
		slots, _ := m.SlotList(true)
		for _, s := range slots {
			m.SlotInfo(s)
			m.TokenInfo(s)
		}
	})
	var sign, warm int
	count(func(m *Manager) {
		m.SlotList(true)
		m.TokenInfo(0)
		log := logAPDUs(c)
		h := open(t, m, 0, false)
		must(t, "Login", m.Login(h, ck.CKU_USER, []byte("1234")))
		keys := find(t, m, h, classTmpl(ck.CKO_PRIVATE_KEY))
		must(t, "SignInit", m.SignInit(h, Mechanism{Type: ck.CKM_SHA256_RSA_PKCS}, keys[0]))
		if _, err := m.Sign(h, []byte("x")); err != nil {
			t.Fatal(err)
		}
		sign = len(log.cmds)
		log.cmds = nil
		must(t, "SignInit", m.SignInit(h, Mechanism{Type: ck.CKM_SHA256_RSA_PKCS}, keys[0]))
		if _, err := m.Sign(h, []byte("x")); err != nil {
			t.Fatal(err)
		}
		warm = len(log.cmds)
	})
	objs := count(func(m *Manager) {
		m.SlotList(true)
		h := open(t, m, 0, false)
		find(t, m, h, nil)
	})
	t.Logf("APDUs: list %d, login+sign after list %d, warm signature %d, list objects cold %d", list, sign, warm, objs)
	if list > 8 || warm > 1 || sign > 7 || objs > 12 {
		t.Fatalf("more APDUs than before: list %d (8), login+sign %d (7), warm %d (1), objects %d (12)", list, sign, warm, objs)
	}
}
