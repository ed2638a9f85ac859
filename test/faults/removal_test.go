package faults

import (
	"bytes"
	"encoding/hex"
	"testing"
	"time"

	"github.com/jpki-pkcs11/jpki-pkcs11/ck"
	"github.com/jpki-pkcs11/jpki-pkcs11/test/faults/host"
)

// TestPullBetweenCalls: the card in reader 0 is pulled out between two calls. The
// session on it answers a removal code, its token leaves the slot list, the session
// on the card in reader 1 goes on signing, and after re-insertion the token, its
// objects and signatures are back (the same certificate bytes).
func TestPullBetweenCalls(t *testing.T) {
	a := serve(t, cardA, 0)
	serve(t, cardB, 1)
	h := start(t)
	sa, sb := open(t, h, slotA), open(t, h, slotB)
	certA, certB := certOf(t, cardA, "auth.der"), certOf(t, cardB, "auth.der")
	login(t, h, sa, authPIN)
	login(t, h, sb, authPIN)
	key := one(t, h, sa, ck.CKO_PRIVATE_KEY)
	signVerified(t, h, sa, certA)

	pull(t, a)
	r := h.Call(call, "signkey", sa, key, ck.CKM_SHA256_RSA_PKCS, hex.EncodeToString(randomData()))
	host.Expect(t, "C_SignInit/C_Sign after the pull", r, gone...)
	t.Logf("sign on a pulled card: %v (%s)", r.RV, r.Field(0))
	host.Expect(t, "C_GetSessionInfo after the pull", h.Call(call, "sinfo", sa), ck.CKR_SESSION_HANDLE_INVALID)
	host.Expect(t, "C_GetTokenInfo after the pull", h.Call(call, "tokinfo", slotA), ck.CKR_TOKEN_NOT_PRESENT)
	host.Expect(t, "C_OpenSession after the pull", h.Call(call, "open", slotA), ck.CKR_TOKEN_NOT_PRESENT)
	if s := slots(t, h); has(s, slotA) || !has(s, slotB) {
		t.Fatalf("slots with a token after the pull: %v", s)
	}
	// The other reader's session never noticed.
	signVerified(t, h, sb, certB)

	insert(t, a)
	if s := slots(t, h); !has(s, slotA) || !has(s, slotASign) {
		t.Fatalf("slots with a token after re-insertion: %v", s)
	}
	sa2 := open(t, h, slotA)
	if !showsCert(t, h, sa2, certA) {
		t.Fatal("the card's certificate is not back after re-insertion")
	}
	// The login went with the card: signing needs it again.
	notLoggedIn(t, h, sa2, "signature before login on the re-inserted card")
	login(t, h, sa2, authPIN)
	signVerified(t, h, sa2, certA)
	signVerified(t, h, sb, certB)
}

// TestDifferentCardInPlace: card A is replaced by card C between two calls, fast
// enough that the module never saw the reader empty. Nothing of A shows: not its
// certificate, serial or object handles, not its login.
func TestDifferentCardInPlace(t *testing.T) {
	a := serve(t, cardA, 0)
	h := start(t)
	s := open(t, h, slotA)
	login(t, h, s, authPIN)
	certA, certC := certOf(t, cardA, "auth.der"), certOf(t, cardC, "auth.der")
	if bytes.Equal(certA, certC) {
		t.Fatal("cards A and C have the same certificate")
	}
	objA := find(t, h, s, ck.CKO_CERTIFICATE)[0]
	if !showsCert(t, h, s, certA) {
		t.Fatal("card A's certificate is not shown")
	}
	serialA := h.Call(call, "tokinfo", slotA).Field(1)

	a.Stop()
	if err := pc.WaitCard(0, false, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	serve(t, cardC, 0)

	host.Expect(t, "C_GetAttributeValue on A's session after the swap",
		h.Call(call, "attr", s, objA, ck.CKA_VALUE), gone...)
	ti := h.Call(call, "tokinfo", slotA)
	host.Expect(t, "C_GetTokenInfo on card C", ti, ck.CKR_OK)
	if ti.Field(1) == serialA {
		t.Fatalf("card C shows card A's serial %s", serialA)
	}
	s2 := open(t, h, slotA)
	host.Expect(t, "A's object handle on C's session", h.Call(call, "attr", s2, objA, ck.CKA_VALUE),
		ck.CKR_OBJECT_HANDLE_INVALID)
	if showsCert(t, h, s2, certA) || !showsCert(t, h, s2, certC) {
		t.Fatal("after the swap the token does not show exactly card C's certificate")
	}
	notLoggedIn(t, h, s2, "signature on card C with card A's login")
	login(t, h, s2, authPIN)
	signVerified(t, h, s2, certC)
}

// TestPullDuringCertificateRead: the card is pulled while the module reads the
// certificate: the call answers CKR_DEVICE_REMOVED, the session is closed, and
// nothing of the partial read is kept (a slow card: 200 ms per APDU, pulled at the first READ BINARY).
func TestPullDuringCertificateRead(t *testing.T) {
	a := serve(t, cardA, 0, "--latency", "200ms")
	h := start(t)
	s := open(t, h, slotA)
	mark := pc.Mark()
	p := h.Async("find", s, ck.CKO_CERTIFICATE)
	if !waitAPDU(t, mark, "00 B0", 20*time.Second) {
		t.Fatalf("no READ BINARY while finding the certificate\n%s", h.Diagnose())
	}
	if err := a.Pull(); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	r := p.Wait(call)
	host.Expect(t, "C_FindObjectsInit with the card pulled mid-read", r, ck.CKR_DEVICE_REMOVED)
	t.Logf("find during a pull: %v after %v", r.RV, time.Since(t0).Round(time.Millisecond))
	if err := pc.WaitCard(0, false, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	host.Expect(t, "the session afterwards", h.Call(call, "sinfo", s), ck.CKR_SESSION_HANDLE_INVALID)

	insert(t, a)
	s2 := open(t, h, slotA)
	if !showsCert(t, h, s2, certOf(t, cardA, "auth.der")) {
		t.Fatal("certificate read after a pulled read differs from the card's (a partial read was cached?)")
	}
}

// TestPullDuringSignature: the card is pulled after the VERIFY, while the signature
// command is on the card (250 ms per APDU). C_Sign answers CKR_DEVICE_REMOVED; no
// signature comes back; the card's PIN counter is untouched; after re-insertion
// the module signs again after a new login, and it never re-sent the PIN by itself.
func TestPullDuringSignature(t *testing.T) {
	a := serve(t, cardA, 0, "--latency", "250ms")
	h := start(t)
	s := open(t, h, slotA)
	key := one(t, h, s, ck.CKO_PRIVATE_KEY)
	mark := pc.Mark()
	login(t, h, s, authPIN)
	host.Expect(t, "C_SignInit", h.Call(call, "signinit", s, key, ck.CKM_SHA256_RSA_PKCS), ck.CKR_OK)
	p := h.Async("sign", s, hex.EncodeToString(randomData()))
	if !waitAPDU(t, mark, "80 2A", 20*time.Second) {
		t.Fatalf("no signature command reached pcscd\n%s", h.Diagnose())
	}
	if err := a.Pull(); err != nil {
		t.Fatal(err)
	}
	r := p.Wait(call)
	host.Expect(t, "C_Sign with the card pulled mid-signature", r, ck.CKR_DEVICE_REMOVED)
	if r.Field(0) != "-" {
		t.Fatalf("C_Sign returned a signature after a pull: %s", r.Field(0))
	}
	t.Logf("sign during a pull: %v", r.RV)
	if err := pc.WaitCard(0, false, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	insert(t, a)
	s2 := open(t, h, slotA)
	ti := h.Call(call, "tokinfo", slotA)
	host.Expect(t, "C_GetTokenInfo", ti, ck.CKR_OK)
	if flags := ti.Uint(0); flags&(ck.CKF_USER_PIN_COUNT_LOW|ck.CKF_USER_PIN_FINAL_TRY|ck.CKF_USER_PIN_LOCKED) != 0 {
		t.Fatalf("PIN counter flags %#x after a pulled signature", flags)
	}
	if n := count(t, mark, "00 20 00 80 04"); n != 1 {
		t.Fatalf("%d VERIFY of the authentication PIN, want exactly 1 (the login)", n)
	}
	login(t, h, s2, authPIN)
	signVerified(t, h, s2, certOf(t, cardA, "auth.der"))
}
