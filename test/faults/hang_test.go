package faults

import (
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jpki-pkcs11/jpki-pkcs11/card/pcsc"
	"github.com/jpki-pkcs11/jpki-pkcs11/ck"
	"github.com/jpki-pkcs11/jpki-pkcs11/test/faults/host"
	"github.com/jpki-pkcs11/jpki-pkcs11/test/harness"
)

// toSignature runs the calls before a signature on slot's token: open a
// session, log in, find the key, C_SignInit. It returns the session.
func toSignature(t *testing.T, h *host.Host, slot int, pin string) uint64 {
	t.Helper()
	s := open(t, h, slot)
	login(t, h, s, pin)
	key := one(t, h, s, ck.CKO_PRIVATE_KEY)
	host.Expect(t, "C_SignInit", h.Call(call, "signinit", s, key, ck.CKM_SHA256_RSA_PKCS), ck.CKR_OK)
	return s
}

// answered counts the APDUs a card process answered (its log's "->" lines).
func answered(c *harness.Card) int {
	n := 0
	for _, l := range strings.Split(c.Log(), "\n") {
		if strings.Contains(l, " -> ") {
			n++
		}
	}
	return n
}

// TestHungCard: card A stops answering in the middle of a signature (the
// signature command is taken and never answered: `jpki-vcard serve
// --hang-after K`, K counted in a dry run of the same calls). The module's bound
// (card/pcsc.DefaultAnswerWait, the README's "a card operation that gets no
// answer fails after 15 s") holds: C_Sign answers CKR_DEVICE_ERROR after it;
// meanwhile card B signs at once; a thread blocked in C_WaitForSlotEvent gets
// reader 0's slot; from then on card A is treated as removed (its session
// CKR_DEVICE_REMOVED, its token gone from the slot list) while PC/SC still shows
// it; C_Finalize returns at once. Card A taken out and put back signs again in
// the same process, and the process exits.
func TestHungCard(t *testing.T) {
	// dry run: how many APDUs card A answers before the signature command
	dry := serve(t, cardA, 0)
	h0 := start(t)
	toSignature(t, h0, slotA, authPIN)
	k := answered(dry)
	host.Expect(t, "C_Finalize", h0.Call(call, "fin"), ck.CKR_OK)
	if err, ok := h0.Exit(call); !ok || err != nil {
		t.Fatalf("dry run host: %v (exited: %v)", err, ok)
	}
	dry.Stop()
	if err := pc.WaitCard(0, false, call); err != nil {
		t.Fatal(err)
	}
	if k == 0 {
		t.Fatal("the dry run sent no APDU")
	}

	hung := serve(t, cardA, 0, "--hang-after", strconv.Itoa(k))
	serve(t, cardB, 1)
	h := start(t)
	sa := toSignature(t, h, slotA, authPIN)
	sb := open(t, h, slotB)
	login(t, h, sb, authPIN)
	for i := 0; i < 8; i++ { // drain the insertion events so that the wait blocks
		if h.Call(call, "wait", 1).RV == ck.CKR_NO_EVENT {
			break
		}
	}
	waiter := h.Async("wait", 0)

	mark := pc.Mark()
	t0 := time.Now()
	sign := h.Async("sign", sa, hex.EncodeToString(randomData()))
	if !waitAPDU(t, mark, "80 2A", call) {
		t.Fatalf("the signature command never reached card A\n%s", h.Diagnose())
	}
	tb := time.Now()
	signVerified(t, h, sb, certOf(t, cardB, "auth.der"))
	if d := time.Since(tb); d > 5*time.Second {
		t.Fatalf("a signature on card B took %v while card A hung", d)
	}
	bound := pcsc.DefaultAnswerWait
	r := sign.Wait(bound + call)
	d := time.Since(t0)
	t.Logf("C_Sign on a card that stopped answering: %v after %v", r.RV, d.Round(time.Millisecond))
	host.Expect(t, "C_Sign on a card that stopped answering", r, ck.CKR_DEVICE_ERROR)
	if d < bound || d > bound+5*time.Second {
		t.Fatalf("C_Sign gave up after %v, want the %v bound", d, bound)
	}
	if apdus := apdusSince(t, mark); len(apdus) == 0 || !strings.HasPrefix(apdus[len(apdus)-1], "80 2A") {
		t.Fatalf("the last APDU on the wire is not the unanswered signature command: %q", apdus)
	}
	if !strings.Contains(hung.Log(), "not answered") {
		t.Fatalf("card A did not hang where expected:\n%s", hung.Log())
	}
	w := waiter.Wait(prompt)
	host.Expect(t, "C_WaitForSlotEvent when card A stopped answering", w, ck.CKR_OK)
	if w.Uint(0) != slotA && w.Uint(0) != slotASign {
		t.Fatalf("C_WaitForSlotEvent gave slot %d, want reader 0's", w.Uint(0))
	}

	// treated as removed, while PC/SC still shows the card
	sys, err := pc.System()
	if err != nil {
		t.Fatal(err)
	}
	st, err := sys.Status([]string{harness.ReaderName(0)})
	if err != nil || !st[0].Present {
		t.Fatalf("PC/SC's view of the hung card: %+v %v (the test needs it still present)", st, err)
	}
	host.Expect(t, "C_GetSessionInfo on the hung card's session", h.Call(call, "sinfo", sa), gone...)
	host.Expect(t, "C_GetTokenInfo of the hung card", h.Call(prompt, "tokinfo", slotA), ck.CKR_TOKEN_NOT_PRESENT)
	if s := slots(t, h); has(s, slotA) || !has(s, slotB) {
		t.Fatalf("slots with a token: %v, want B's and not A's", s)
	}
	signVerified(t, h, sb, certOf(t, cardB, "auth.der"))

	host.Expect(t, "C_Finalize with a hung card", h.Call(prompt, "fin"), ck.CKR_OK)

	// taken out (its process ends: the reader's driver gets its answer) and put back
	hung.Stop()
	if err := pc.WaitCard(0, false, call); err != nil {
		t.Fatal(err)
	}
	serve(t, cardA, 0)
	host.Expect(t, "C_Initialize", h.Call(call, "init"), ck.CKR_OK)
	s := open(t, h, slotA)
	login(t, h, s, authPIN)
	signVerified(t, h, s, certOf(t, cardA, "auth.der"))
	host.Expect(t, "C_Finalize", h.Call(prompt, "fin"), ck.CKR_OK)
	if err, ok := h.Exit(prompt); !ok || err != nil {
		t.Fatalf("host exit: %v (exited: %v)", err, ok)
	}
}
