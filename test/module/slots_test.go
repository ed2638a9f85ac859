package module

import (
	"strings"
	"testing"
	"time"

	"github.com/jpki-pkcs11/jpki-pkcs11/test/clients/clienttest"
)

// TestListSlotsAndTokens: -L and -T with a normal card in reader 0: two slots per
// reader (the list covers both readers), two tokens with distinct labels, the same
// per-card serial, PIN lengths 4/4 and 6/16, read-only, initialised; the signature
// token requires a login (the authentication token may not: docs/ONE-PIN.md).
func TestListSlotsAndTokens(t *testing.T) {
	fx.ServeCard(t, fx.CardDir(t, "normal"), 0)
	env := clienttest.Env(t)
	slots := clienttest.ParseSlots(tool(t, env, "-L"))
	if len(slots) != 4 {
		t.Fatalf("-L: %d slots, want 4 (2 readers x 2): %+v", len(slots), slots)
	}
	r0, r1 := slotsOf(t, slots, 0), slotsOf(t, slots, 1)
	if r0.auth < 0 || r0.sign < 0 {
		t.Fatalf("reader 0: tokens missing: %+v", slots)
	}
	if r1.auth >= 0 || r1.sign >= 0 {
		t.Fatalf("reader 1 is empty but shows a token: %+v", slots)
	}
	byID := map[int]clienttest.Slot{}
	for _, s := range slots {
		byID[s.ID] = s
	}
	a, s := byID[r0.auth], byID[r0.sign]
	if a.Serial == "" || a.Serial != s.Serial {
		t.Fatalf("token serials %q and %q: want one non-empty per-card serial", a.Serial, s.Serial)
	}
	if a.PINMinMax != "4/4" || s.PINMinMax != "6/16" {
		t.Fatalf("PIN lengths %s and %s, want 4/4 and 6/16", a.PINMinMax, s.PINMinMax)
	}
	if !strings.Contains(s.Flags, "login required") {
		t.Fatalf("signature token flags %q lack login required", s.Flags)
	}
	for _, x := range []clienttest.Slot{a, s} {
		for _, f := range []string{"token initialized", "PIN initialized", "readonly"} {
			if !strings.Contains(x.Flags, f) {
				t.Fatalf("token %q flags %q lack %q", x.Token, x.Flags, f)
			}
		}
		for _, f := range []string{"count low", "final", "locked"} {
			if strings.Contains(x.Flags, f) {
				t.Fatalf("fresh token %q flags %q show %q", x.Token, x.Flags, f)
			}
		}
	}
	// -T lists only the slots with a token, with the same information.
	tokens := clienttest.ParseSlots(tool(t, env, "-T"))
	if len(tokens) != 2 || tokens[0].Token != clienttest.AuthToken || tokens[1].Token != clienttest.SignToken {
		t.Fatalf("-T: %+v", tokens)
	}
}

// TestUnder15Card: a card without a signature certificate gives only the
// authentication token, which works.
func TestUnder15Card(t *testing.T) {
	c := fx.StartCard(t, 0, "--under15")
	env := clienttest.Env(t)
	r := slotsOf(t, clienttest.ParseSlots(tool(t, env, "-L")), 0)
	if r.auth < 0 || r.sign >= 0 {
		t.Fatalf("under-15 card: slots %+v, want the authentication token only", r)
	}
	objs := clienttest.ParseObjects(tool(t, env, append(slotArg(r.auth), "--login", "--pin", clienttest.AuthPIN, "-O")...))
	if _, ok := clienttest.Find(objs, "Private Key", "User Authentication Key"); !ok {
		t.Fatalf("under-15 card: no authentication key after login: %+v", objs)
	}
	signAndVerify(t, env, c, r.auth, clienttest.AuthPIN, "01", "auth.der", "SHA256-RSA-PKCS")
}

// TestJukiCard: a Juki card (the old basic resident registry card) shows no token,
// and the debug log says why.
func TestJukiCard(t *testing.T) {
	fx.StartCard(t, 0, "--juki")
	env := clienttest.Env(t)
	slots := clienttest.ParseSlots(tool(t, env, "-L"))
	if r := slotsOf(t, slots, 0); r.auth >= 0 || r.sign >= 0 {
		t.Fatalf("Juki card shows a token: %+v", slots)
	}
	toolFails(t, env, "CKR_TOKEN_NOT_PRESENT", append(slotArg(slots[0].ID), "-O")...)
	log := readDebugLog(t, env)
	if !strings.Contains(strings.ToLower(log), "juki") {
		t.Fatalf("debug log does not say the card is a Juki card:\n%s", log)
	}
}

// TestTwoReaders: two cards at once give four tokens; each card signs with its own
// key, verified against its own exported certificate.
func TestTwoReaders(t *testing.T) {
	c0 := fx.ServeCard(t, fx.CardDir(t, "normal"), 0)
	c1 := fx.ServeCard(t, fx.CardDir(t, "second"), 1)
	env := clienttest.Env(t)
	slots := clienttest.ParseSlots(tool(t, env, "-L"))
	r0, r1 := slotsOf(t, slots, 0), slotsOf(t, slots, 1)
	for _, r := range []readerSlots{r0, r1} {
		if r.auth < 0 || r.sign < 0 {
			t.Fatalf("two cards: tokens missing: %+v", slots)
		}
	}
	serial := map[int]string{}
	for _, s := range slots {
		serial[s.ID] = s.Serial
	}
	if serial[r0.auth] == serial[r1.auth] {
		t.Fatalf("two cards with the same token serial %q", serial[r0.auth])
	}
	signAndVerify(t, env, c0, r0.sign, clienttest.SignPIN, "02", "sign.der", "SHA256-RSA-PKCS")
	signAndVerify(t, env, c1, r1.sign, clienttest.SignPIN, "02", "sign.der", "SHA256-RSA-PKCS")
	signAndVerify(t, env, c1, r1.auth, clienttest.AuthPIN, "01", "auth.der", "SHA512-RSA-PKCS")
}

// TestRemovalAndReinsertion: a pulled card's slots stay (the list never shrinks) but
// are empty; the card comes back with the same tokens and works.
func TestRemovalAndReinsertion(t *testing.T) {
	c := fx.ServeCard(t, fx.CardDir(t, "normal"), 0)
	env := clienttest.Env(t)
	before := slotsOf(t, clienttest.ParseSlots(tool(t, env, "-L")), 0)
	if err := c.H.Pull(); err != nil {
		t.Fatal(err)
	}
	if err := fx.PC.WaitCard(0, false, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	slots := clienttest.ParseSlots(tool(t, env, "-L"))
	if len(slots) != 4 {
		t.Fatalf("-L after removal: %d slots, want 4", len(slots))
	}
	if r := slotsOf(t, slots, 0); r.auth >= 0 || r.sign >= 0 {
		t.Fatalf("card pulled but tokens shown: %+v", slots)
	}
	toolFails(t, env, "CKR_TOKEN_NOT_PRESENT", append(slotArg(before.auth), "-O")...)
	if err := c.H.Insert(); err != nil {
		t.Fatal(err)
	}
	if err := fx.PC.WaitCard(0, true, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	after := slotsOf(t, clienttest.ParseSlots(tool(t, env, "-L")), 0)
	if after != before {
		t.Fatalf("slots after re-insertion %+v, before %+v", after, before)
	}
	signAndVerify(t, env, c, after.auth, clienttest.AuthPIN, "01", "auth.der", "SHA256-RSA-PKCS")
}
