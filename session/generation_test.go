package session

import (
	"bytes"
	"crypto/sha256"
	"log/slog"
	"strings"
	"testing"

	"github.com/jpki-pkcs11/jpki-pkcs11/card"
	"github.com/jpki-pkcs11/jpki-pkcs11/card/nextgen"
	"github.com/jpki-pkcs11/jpki-pkcs11/ck"
	"github.com/jpki-pkcs11/jpki-pkcs11/vcard"
)

// nextGenCommand tells whether cmd is one of the commands only card/nextgen
// sends (card/nextgen/assumed.go): the SELECT of its AID or of one of its EFs,
// MSE:SET, PSO: COMPUTE DIGITAL SIGNATURE, VERIFY or CHANGE REFERENCE DATA
// naming a PIN by reference without a SELECT (P2 81, 82).
func nextGenCommand(cmd []byte) bool {
	if len(cmd) < 4 {
		return false
	}
	ins, p1, p2 := cmd[1], cmd[2], cmd[3]
	switch {
	case ins == 0xA4 && p1 == 0x04:
		return len(cmd) >= 5+len(nextgen.AID) && bytes.Equal(cmd[5:5+len(nextgen.AID)], nextgen.AID)
	case ins == 0xA4 && p1 == 0x02 && len(cmd) >= 7:
		fid := uint16(cmd[5])<<8 | uint16(cmd[6])
		for _, f := range []uint16{nextgen.EFTokenInfo, nextgen.EFPresence, nextgen.EFAuthCert, nextgen.EFAuthCACert, nextgen.EFSignCert, nextgen.EFSignCACert} {
			if fid == f {
				return true
			}
		}
	case ins == 0x22, ins == 0x2A && p1 == nextgen.PSOCDSP1 && p2 == nextgen.PSOCDSP2:
		return true
	case ins == 0x20 || ins == 0x24:
		return p2 == nextgen.PINRefAuth || p2 == nextgen.PINRefSign
	}
	return false
}

// exercise does with every token of m what clients do: token and mechanism
// information, every object's attributes, a login, a signature with every
// signature mechanism listed, C_SetPIN (and back), a logout.
func exercise(t *testing.T, m *Manager, pins map[ck.ULong]string) {
	t.Helper()
	slots, err := m.SlotList(true)
	must(t, "SlotList", err)
	for _, slot := range slots {
		_, err := m.TokenInfo(slot)
		must(t, "TokenInfo", err)
		mechs, err := m.Mechanisms(slot)
		must(t, "Mechanisms", err)
		for _, mech := range mechs {
			_, err := m.MechanismInfo(slot, mech)
			must(t, "MechanismInfo", err)
		}
		h := open(t, m, slot, true)
		for _, o := range find(t, m, h, nil) {
			_, err := m.GetAttributeValue(h, o, []ck.ULong{ck.CKA_CLASS, ck.CKA_ID, ck.CKA_VALUE, ck.CKA_KEY_TYPE, ck.CKA_ALLOWED_MECHANISMS})
			must(t, "GetAttributeValue", err)
		}
		pin := []byte(pins[slot])
		must(t, "Login", m.Login(h, ck.CKU_USER, pin))
		keys := find(t, m, h, classTmpl(ck.CKO_PRIVATE_KEY))
		if len(keys) != 1 {
			t.Fatalf("slot %d: %d private keys", slot, len(keys))
		}
		sum := sha256.Sum256([]byte("x"))
		for _, mech := range mechs {
			if !isSignMech(mech) {
				continue
			}
			mm := Mechanism{Type: mech}
			data := []byte("a document")
			switch {
			case mech == ck.CKM_RSA_PKCS_PSS:
				mm.Param, data = PSSParams(ck.CKM_SHA256, ck.CKG_MGF1_SHA256, 32), sum[:]
			case mech == ck.CKM_SHA256_RSA_PKCS_PSS:
				mm.Param = PSSParams(ck.CKM_SHA256, ck.CKG_MGF1_SHA256, 32)
			}
			must(t, "SignInit", m.SignInit(h, mm, keys[0]))
			_, err := m.Sign(h, data)
			must(t, "Sign", err)
		}
		must(t, "SetPIN", m.SetPIN(h, pin, pin))
		must(t, "Logout", m.Logout(h))
	}
}

// TestTodaysCardsGetNoNextGenerationCommand: through the session layer, with
// everything clients do, a card of today's generation (every form factor and
// variation) is never sent a command of the next generation's: its
// identification is (*card.Card).Identify's (card/nextgen's
// TestTodaysCardSeesNothingNew), and everything after it is today's commands.
func TestTodaysCardsGetNoNextGenerationCommand(t *testing.T) {
	both := map[ck.ULong]string{0: "1234", 1: "ABC123"}
	for name, o := range map[string]vcard.Options{
		"my-number": {}, "under15": {Under15: true}, "no-pss": {NoPSS: true}, "android": {Phone: vcard.PhoneAndroid},
		"no-short-ef": {Quirks: []string{vcard.QuirkNoShortEF}}, "verify-9000": {Quirks: []string{vcard.QuirkVerify9000}},
		"juki": {Juki: true}, "iphone": {Phone: vcard.PhoneIOS}, "no-jpki-ap": {Quirks: []string{vcard.QuirkNoJPKIAP}},
	} {
		t.Run(name, func(t *testing.T) {
			m, _, c := setup(t, o)
			log := logAPDUs(c)
			exercise(t, m, both)
			if len(log.cmds) == 0 {
				t.Fatal("no command sent")
			}
			for _, cmd := range log.cmds {
				if nextGenCommand(cmd) {
					t.Fatalf("today's card was sent the next generation's % X", cmd)
				}
			}
		})
	}
	// the check itself sees the next generation's commands
	m, _, c := setup(t, nextGen)
	log := logAPDUs(c)
	exercise(t, m, both)
	n := 0
	for _, cmd := range log.cmds {
		if nextGenCommand(cmd) {
			n++
		}
	}
	if n < len(log.cmds)/2 {
		t.Fatalf("only %d of the next-generation card's %d commands recognised", n, len(log.cmds))
	}
}

// relabeling is a System whose cards answer the next generation's assumed
// commands with another label than the virtual card's: a real card that would
// answer the assumed AID (its real commands are not published).
type relabeling struct{ *fakeSystem }

func (s relabeling) Connect(reader string) (card.Transport, error) {
	t, err := s.fakeSystem.Connect(reader)
	return relabelingTransport{t}, err
}

type relabelingTransport struct{ card.Transport }

func (t relabelingTransport) Transmit(cmd []byte) ([]byte, error) {
	resp, err := t.Transport.Transmit(cmd)
	return bytes.ReplaceAll(resp, []byte(nextgen.LabelVirtual), []byte("JPKIAPICCTOKEN3               ")), err
}

// TestRealNextGenerationCardNotYetSupported: a card that answers the next
// generation's assumed AID but is not the virtual card gets no token, is logged
// as not yet supported with the reason, and is sent nothing after its label.
func TestRealNextGenerationCardNotYetSupported(t *testing.T) {
	sys := relabeling{newFakeSystem(reader0)}
	c := newVCard(t, nextGen)
	sys.Insert(reader0, c)
	log := logAPDUs(c)
	var logged logBuffer
	m, err := New(Config{System: sys, Log: slog.New(slog.NewTextHandler(&logged, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	slots, err := m.SlotList(true)
	must(t, "SlotList", err)
	if len(slots) != 0 {
		t.Fatalf("tokens on a card that is not yet supported: %v", slots)
	}
	_, err = m.TokenInfo(0)
	wantRV(t, "TokenInfo", err, ck.CKR_TOKEN_NOT_PRESENT)
	for _, want := range []string{"not yet supported", "with the label \\\"JPKIAPICCTOKEN3\\\", not the virtual card's"} {
		if !strings.Contains(logged.String(), want) {
			t.Fatalf("the log lacks %q:\n%s", want, logged.String())
		}
	}
	// today's identification (3 SELECTs), the next generation's SELECT of its
	// AP and of the label file, the label's READ BINARY
	if len(log.cmds) != 6 {
		t.Fatalf("%d commands: % X", len(log.cmds), log.cmds)
	}
	for _, cmd := range log.cmds {
		if cmd[1] != 0xA4 && !(cmd[1] == 0xB0 && cmd[2] == 0x00 && cmd[3] == 0x00) {
			t.Fatalf("sent beyond the identification: % X", cmd)
		}
	}
}

// TestNextGenerationSignatureStatusWords: 63 Cx, 69 83 or 69 84 in the answer
// to the next generation's signature command is a device error, not a PIN's
// refusal: the token keeps its PIN counter flags and its login.
func TestNextGenerationSignatureStatusWords(t *testing.T) {
	sys := &answering{fakeSystem: newFakeSystem(reader0), rules: map[string]uint16{}}
	sys.Insert(reader0, newVCard(t, nextGen))
	m, err := New(Config{System: sys})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	h, priv, _ := loggedIn(t, m, 1, "ABC123")
	pso := []byte{0x00, 0x2A, nextgen.PSOCDSP1, nextgen.PSOCDSP2}
	for _, sw := range []uint16{0x63C2, 0x6983, 0x6984} {
		sys.answer(pso, sw)
		must(t, "SignInit", m.SignInit(h, Mechanism{Type: ck.CKM_ECDSA_SHA384}, priv))
		_, err := m.Sign(h, []byte("x"))
		wantRV(t, "Sign answered a PIN status word", err, ck.CKR_DEVICE_ERROR)
		ti, err := m.TokenInfo(1)
		must(t, "TokenInfo", err)
		if ti.Flags&(ck.CKF_USER_PIN_COUNT_LOW|ck.CKF_USER_PIN_FINAL_TRY|ck.CKF_USER_PIN_LOCKED) != 0 {
			t.Fatalf("%04X: token flags %#x", sw, ti.Flags)
		}
	}
	sys.clear()
	must(t, "SignInit", m.SignInit(h, Mechanism{Type: ck.CKM_ECDSA_SHA384}, priv))
	_, err = m.Sign(h, []byte("x"))
	must(t, "Sign, still logged in", err)
}

// TestNotJPKIReportReplaysThroughTheModule: the jpki diagnose transcript of a
// card with no application the module knows (card.Diagnose with the next
// generation, as jpki diagnose runs it) replays through the module's
// identification exactly: the module sends the card what the report recorded,
// the next generation's SELECT included, and shows no token.
func TestNotJPKIReportReplaysThroughTheModule(t *testing.T) {
	sys := &answering{fakeSystem: newFakeSystem(reader0), rules: map[string]uint16{}}
	sys.Insert(reader0, newVCard(t, vcard.Options{}))
	sys.answer([]byte{0x00, 0xA4, 0x04, 0x0C}, 0x6A82) // no application answers
	tr, err := sys.Connect(reader0)
	if err != nil {
		t.Fatal(err)
	}
	d := card.Diagnose(tr, nextgen.Generation)
	if d.IdentifyErr != nil || d.Info.Kind != card.KindNotJPKI || len(d.Exchanges) != 4 {
		t.Fatalf("diagnosis: %+v %v, %d exchanges", d.Info, d.IdentifyErr, len(d.Exchanges))
	}
	r := card.NewReplay(d.Exchanges)
	m, err := New(Config{System: &card.ReplaySystem{Reader: reader0, R: r}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	slots, err := m.SlotList(true)
	must(t, "SlotList", err)
	if len(slots) != 0 || r.Err() != nil || r.Used() != len(d.Exchanges) {
		t.Fatalf("replay: %d tokens, %v, %d of %d exchanges used", len(slots), r.Err(), r.Used(), len(d.Exchanges))
	}
}
