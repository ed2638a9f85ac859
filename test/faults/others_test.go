package faults

import (
	"encoding/hex"
	"sync"
	"testing"
	"time"

	"github.com/ebfe/scard"
	"github.com/jpki-pkcs11/jpki-pkcs11/card"
	"github.com/jpki-pkcs11/jpki-pkcs11/ck"
	"github.com/jpki-pkcs11/jpki-pkcs11/test/faults/host"
	"github.com/jpki-pkcs11/jpki-pkcs11/test/harness"
)

// other is "another application": its own PC/SC context and shared connection to
// the card in reader i (this test process never loads the module).
func other(t *testing.T, i int) (*scard.Context, *scard.Card) {
	t.Helper()
	ctx, err := scard.EstablishContext()
	if err != nil {
		t.Fatal(err)
	}
	c, err := ctx.Connect(harness.ReaderName(i), scard.ShareShared, scard.ProtocolAny)
	if err != nil {
		ctx.Release()
		t.Fatal(err)
	}
	return ctx, c
}

// selectAP is the JPKI AP selection another application sends.
var selectAP = append([]byte{0x00, 0xA4, 0x04, 0x0C, byte(len(card.AID))}, card.AID...)

// TestOtherApplication: between two of our calls another application selects the
// JPKI AP again (which drops the card's verified PINs) or resets the card. Our next
// C_Sign answers CKR_USER_NOT_LOGGED_IN, returns no signature, the session shows
// the public state, and the module never re-sends the PIN by itself.
func TestOtherApplication(t *testing.T) {
	for _, tc := range []struct {
		name string
		act  func(*scard.Card) error
	}{
		{"reselect", func(c *scard.Card) error {
			r, err := c.Transmit(selectAP)
			if err == nil && (len(r) != 2 || r[0] != 0x90) {
				t.Fatalf("select by the other application: % X", r)
			}
			if err != nil {
				return err
			}
			return c.Disconnect(scard.LeaveCard)
		}},
		{"reset", func(c *scard.Card) error { return c.Disconnect(scard.ResetCard) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			serve(t, cardA, 0)
			h := start(t)
			s := open(t, h, slotA)
			login(t, h, s, authPIN)
			signVerified(t, h, s, certOf(t, cardA, "auth.der"))

			ctx, c := other(t, 0)
			if err := tc.act(c); err != nil {
				t.Fatal(err)
			}
			ctx.Release()
			mark := pc.Mark()
			notLoggedIn(t, h, s, "C_Sign after another application "+tc.name)
			if n := count(t, mark, "00 20 00 80 04"); n != 0 {
				t.Fatalf("the module re-sent the PIN %d times", n)
			}
			si := h.Call(call, "sinfo", s)
			host.Expect(t, "C_GetSessionInfo", si, ck.CKR_OK)
			if st := ck.ULong(si.Uint(0)); st != ck.CKS_RO_PUBLIC_SESSION {
				t.Fatalf("session state %d after the login was lost, want CKS_RO_PUBLIC_SESSION", st)
			}
			login(t, h, s, authPIN)
			signVerified(t, h, s, certOf(t, cardA, "auth.der"))
		})
	}
}

// TestLongTransaction: another application holds a PC/SC transaction on card A
// for 16 s. Our signature on A waits at most the transaction bound (10 s,
// card/pcsc.DefaultTransactionWait) and fails with CKR_DEVICE_ERROR; meanwhile a
// signature on card B (reader 1) goes through at once; once the transaction ends
// the session on A signs again (its login kept, no PIN re-sent).
func TestLongTransaction(t *testing.T) {
	serve(t, cardA, 0)
	serve(t, cardB, 1)
	h := start(t)
	sa, sb := open(t, h, slotA), open(t, h, slotB)
	login(t, h, sa, authPIN)
	login(t, h, sb, authPIN)
	keyA := one(t, h, sa, ck.CKO_PRIVATE_KEY)
	signVerified(t, h, sa, certOf(t, cardA, "auth.der"))

	ctx, c := other(t, 0)
	defer ctx.Release()
	if err := c.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release := func() {
		once.Do(func() {
			_ = c.EndTransaction(scard.LeaveCard)
			_ = c.Disconnect(scard.LeaveCard)
		})
	}
	defer release()
	timer := time.AfterFunc(16*time.Second, release)
	defer timer.Stop()

	mark := pc.Mark()
	t0 := time.Now()
	p := h.Async("signkey", sa, keyA, ck.CKM_SHA256_RSA_PKCS, hex.EncodeToString(randomData()))
	time.Sleep(500 * time.Millisecond)
	tb := time.Now()
	signVerified(t, h, sb, certOf(t, cardB, "auth.der"))
	if d := time.Since(tb); d > 5*time.Second {
		t.Fatalf("a signature on card B took %v while card A was held", d)
	}
	r := p.Wait(call)
	d := time.Since(t0)
	t.Logf("signature on a held card: %v after %v", r.RV, d.Round(time.Millisecond))
	host.Expect(t, "C_Sign on a card held by another application", r, ck.CKR_DEVICE_ERROR)
	if d < 5*time.Second || d > 15*time.Second {
		t.Fatalf("C_Sign gave up after %v, want the 10 s bound", d)
	}
	release()
	login(t, h, sa, authPIN)
	signVerified(t, h, sa, certOf(t, cardA, "auth.der"))
	if n := count(t, mark, "00 20 00 80 04"); n > 1 {
		t.Fatalf("%d VERIFY since the transaction, want at most the one explicit login", n)
	}
}

// TestPCSCDRestart: pcscd is killed and started again while the module is loaded
// with a logged-in session. Calls fail cleanly while it is away; afterwards the
// same loaded module finds the card again and signs, without C_Finalize.
func TestPCSCDRestart(t *testing.T) {
	serve(t, cardA, 0)
	h := start(t)
	s := open(t, h, slotA)
	login(t, h, s, authPIN)
	signVerified(t, h, s, certOf(t, cardA, "auth.der"))

	if err := pc.Restart(); err != nil {
		t.Fatal(err)
	}
	// Right after the restart the cards may not have reconnected yet: whatever the
	// module says must be an error of the removal family or a clean empty answer.
	r := h.Call(call, "sinfo", s)
	host.Expect(t, "C_GetSessionInfo after pcscd restarted", r, append(gone, ck.CKR_OK)...)
	r = h.Call(call, "signkey", s, one2(t, h, s), ck.CKM_SHA256_RSA_PKCS, hex.EncodeToString(randomData()))
	host.Expect(t, "C_Sign after pcscd restarted", r, append(gone, ck.CKR_USER_NOT_LOGGED_IN, ck.CKR_OBJECT_HANDLE_INVALID, ck.CKR_KEY_HANDLE_INVALID)...)
	t.Logf("sign after the restart: %v", r.RV)
	if err := pc.WaitCard(0, true, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for !has(slots(t, h), slotA) {
		if time.Now().After(deadline) {
			t.Fatalf("the token did not come back after the pcscd restart\n%s", h.DebugTail(30))
		}
		time.Sleep(200 * time.Millisecond)
	}
	s2 := open(t, h, slotA)
	login(t, h, s2, authPIN)
	signVerified(t, h, s2, certOf(t, cardA, "auth.der"))
}

// one2 returns the private key handle seen by the session, or 0 when the find
// itself fails (the card is away).
func one2(t *testing.T, h *host.Host, s uint64) uint64 {
	t.Helper()
	r := h.Call(call, "find", s, ck.CKO_PRIVATE_KEY)
	if r.RV != ck.CKR_OK || len(r.Fields) == 0 {
		return 0
	}
	return r.Uint(0)
}

// TestReaderGone: the vpcd side goes away (the card process stops) and comes back.
func TestReaderGone(t *testing.T) {
	a := serve(t, cardA, 0)
	h := start(t)
	s := open(t, h, slotA)
	login(t, h, s, authPIN)
	// the real key: a signature must reach for the card. (With a made-up handle
	// the module may answer CKR_KEY_HANDLE_INVALID from the reader state it read
	// less than statusFresh ago, before pcscd reported the removal.)
	key := one2(t, h, s)
	if key == 0 {
		t.Fatal("no private key on the authentication token")
	}
	a.Stop()
	if err := pc.WaitCard(0, false, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	host.Expect(t, "C_Sign with the vpcd side gone",
		h.Call(call, "signkey", s, key, ck.CKM_SHA256_RSA_PKCS, hex.EncodeToString(randomData())), gone...)
	host.Expect(t, "C_GetTokenInfo with the vpcd side gone", h.Call(call, "tokinfo", slotA), ck.CKR_TOKEN_NOT_PRESENT)
	serve(t, cardA, 0)
	s2 := open(t, h, slotA)
	login(t, h, s2, authPIN)
	signVerified(t, h, s2, certOf(t, cardA, "auth.der"))
}
