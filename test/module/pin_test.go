package module

import (
	"strings"
	"testing"

	"github.com/jpki-pkcs11/jpki-pkcs11/test/clients/clienttest"
)

// TestChangePIN: --change-pin on both tokens: the new PIN works and the old one no
// longer does; the signature password's lower case is folded; a malformed new PIN
// is refused (CKR_PIN_LEN_RANGE / CKR_PIN_INVALID) without a CHANGE REFERENCE DATA
// reaching the card; a wrong old PIN is CKR_PIN_INCORRECT.
func TestChangePIN(t *testing.T) {
	c := fx.StartCard(t, 0)
	env := clienttest.Env(t)
	r := slotsOf(t, clienttest.ParseSlots(tool(t, env, "-L")), 0)
	for _, k := range []struct {
		name          string
		slot          int
		old, new, use string // use: how the new PIN is typed to log in
		bad           map[string]string
		id, der       string
	}{
		{"auth", r.auth, clienttest.AuthPIN, "5678", "5678",
			map[string]string{"12345": "CKR_PIN_LEN_RANGE", "123": "CKR_PIN_LEN_RANGE", "12a4": "CKR_PIN_INVALID"}, "01", "auth.der"},
		{"sign", r.sign, clienttest.SignPIN, "newpass9", "NEWPASS9",
			map[string]string{"AB12": "CKR_PIN_LEN_RANGE", "ABCDEFGHIJ1234567": "CKR_PIN_LEN_RANGE", "AB#123": "CKR_PIN_INVALID"}, "02", "sign.der"},
	} {
		t.Run(k.name, func(t *testing.T) {
			s := slotArg(k.slot)
			mark := fx.PC.Mark()
			for bad, rv := range k.bad {
				out := toolFails(t, env, "", append(s, "--login", "--pin", k.old, "--change-pin", "--new-pin", bad)...)
				if !strings.Contains(out, "rv = "+rv+" (") && !strings.Contains(out, "rv = CKR_PIN_LEN_RANGE (") && !strings.Contains(out, "rv = CKR_PIN_INVALID (") {
					t.Fatalf("malformed new PIN %q: want %s (or the other of PIN_LEN_RANGE/PIN_INVALID):\n%s", bad, rv, out)
				}
			}
			if n := fx.APDUsSince(t, mark, changePINAPDU); n != 0 {
				t.Fatalf("a malformed new PIN reached the card (%d CHANGE REFERENCE DATA)", n)
			}
			out := tool(t, env, append(s, "--login", "--pin", k.old, "--change-pin", "--new-pin", k.new)...)
			clienttest.Contains(t, "--change-pin", out, "PIN successfully changed")
			if n := fx.APDUsSince(t, mark, changePINAPDU); n != 1 {
				t.Fatalf("--change-pin sent %d CHANGE REFERENCE DATA, want 1", n)
			}
			signAndVerify(t, env, c, k.slot, k.use, k.id, k.der, "SHA256-RSA-PKCS")
			toolFails(t, env, "CKR_PIN_INCORRECT", append(s, "--login", "--pin", k.old, "-O")...)
			// a wrong old PIN (well-formed): refused by the card
			wrong := "0000"
			if k.name == "sign" {
				wrong = "WRONG1"
			}
			toolFails(t, env, "CKR_PIN_INCORRECT", append(s, "--login", "--pin", wrong, "--change-pin", "--new-pin", k.old)...)
			// back to the original PIN (this also resets the tries)
			tool(t, env, append(s, "--login", "--pin", k.use, "--change-pin", "--new-pin", k.old)...)
			signAndVerify(t, env, c, k.slot, k.old, k.id, k.der, "SHA1-RSA-PKCS")
		})
	}
}

// TestMalformedPINNeverReachesCard: malformed PINs are refused by the module (with
// a code from C_Login's list) and no VERIFY reaches the card (pcscd's own APDU
// log); the signature password's lower case is folded to upper case.
func TestMalformedPINNeverReachesCard(t *testing.T) {
	fx.ServeCard(t, fx.CardDir(t, "normal"), 0)
	env := clienttest.Env(t)
	r := slotsOf(t, clienttest.ParseSlots(tool(t, env, "-L")), 0)
	mark := fx.PC.Mark()
	for _, c := range []struct {
		slot int
		pin  string
	}{{r.auth, "12345"}, {r.auth, "123"}, {r.auth, "12a4"}, {r.sign, "AB#12"}, {r.sign, "ABC12"}, {r.sign, "ABCDEFGHIJ1234567"}, {r.sign, "ABC 123"}} {
		toolFails(t, env, "CKR_PIN_INCORRECT", append(slotArg(c.slot), "--login", "--pin", c.pin, "-O")...)
	}
	if n := fx.APDUsSince(t, mark, verifyAPDU); n != 0 {
		t.Fatalf("%d VERIFY APDUs with a PIN reached the card for malformed PINs", n)
	}
	out := tool(t, env, append(slotArg(r.sign), "--login", "--pin", strings.ToLower(clienttest.SignPIN), "-O")...)
	if _, ok := clienttest.Find(clienttest.ParseObjects(out), "Private Key", "Digital Signature Key"); !ok {
		t.Fatalf("lower-case signature password: no key after login:\n%s", out)
	}
	if n := fx.APDUsSince(t, mark, verifyAPDU); n != 1 {
		t.Fatalf("one login sent %d VERIFY APDUs, want 1", n)
	}
}

// TestBlockedPINs: wrong PINs count down (CKR_PIN_INCORRECT; token flags user PIN
// count low, final try), each costing exactly one VERIFY; then the PIN is blocked
// (CKR_PIN_LOCKED, "user PIN locked", also for the right PIN). Both tokens stay
// visible with their public objects readable.
func TestBlockedPINs(t *testing.T) {
	c := fx.StartCard(t, 0)
	env := clienttest.Env(t)
	r := slotsOf(t, clienttest.ParseSlots(tool(t, env, "-L")), 0)
	for _, k := range []struct {
		name        string
		slot        int
		wrong, good string
		tries       int
	}{{"auth", r.auth, "9999", clienttest.AuthPIN, 3}, {"sign", r.sign, "WRONG9", clienttest.SignPIN, 5}} {
		t.Run(k.name, func(t *testing.T) {
			flags := func() string {
				for _, s := range clienttest.ParseSlots(tool(t, env, "-L")) {
					if s.ID == k.slot {
						return s.Flags
					}
				}
				t.Fatalf("slot %d gone", k.slot)
				return ""
			}
			for i := 1; i <= k.tries; i++ {
				mark := fx.PC.Mark()
				out := toolFails(t, env, "", append(slotArg(k.slot), "--login", "--pin", k.wrong, "-O")...)
				// the attempt that blocks the PIN may say so at once
				if !strings.Contains(out, "rv = CKR_PIN_INCORRECT (") && !(i == k.tries && strings.Contains(out, "rv = CKR_PIN_LOCKED (")) {
					t.Fatalf("wrong PIN %d of %d: want CKR_PIN_INCORRECT:\n%s", i, k.tries, out)
				}
				if n := fx.APDUsSince(t, mark, verifyAPDU); n != 1 {
					t.Fatalf("wrong PIN %d: %d VERIFY APDUs, want exactly 1", i, n)
				}
				f := flags()
				left := k.tries - i
				want := map[string]bool{"user PIN count low": left > 0, "final user PIN try": left == 1, "user PIN locked": left == 0}
				for name, on := range want {
					if strings.Contains(f, name) != on {
						t.Fatalf("after %d wrong PINs (%d left): flags %q, want %q=%v", i, left, f, name, on)
					}
				}
			}
			for _, pin := range []string{k.wrong, k.good} {
				toolFails(t, env, "CKR_PIN_LOCKED", append(slotArg(k.slot), "--login", "--pin", pin, "-O")...)
			}
			objs := clienttest.ParseObjects(tool(t, env, append(slotArg(k.slot), "-O")...))
			if clienttest.Count(objs, "Certificate") == 0 {
				t.Fatalf("blocked token: no public certificate readable: %+v", objs)
			}
		})
	}
	// The authentication certificate is still usable for reading with both PINs blocked.
	exportCert(t, env, c, r.auth, "", "01", "auth.der")
}
