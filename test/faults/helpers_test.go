package faults

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/jpki-pkcs11/jpki-pkcs11/ck"
	"github.com/jpki-pkcs11/jpki-pkcs11/test/faults/host"
	"github.com/jpki-pkcs11/jpki-pkcs11/test/harness"
)

// call is the bound on one ordinary call (a hang check, far above any normal
// answer, including a 250 ms-per-APDU card).
const call = 30 * time.Second

// Slots: two per reader (authentication, signature).
const (
	slotA     = 0 // reader 0, authentication token
	slotASign = 1
	slotB     = 2 // reader 1, authentication token
)

// gone is what a call on a session of a card pulled before the call may answer
// (PKCS#11 2.40 §5.1: the token went away; or its session is closed already).
var gone = []ck.RV{ck.CKR_DEVICE_REMOVED, ck.CKR_SESSION_HANDLE_INVALID, ck.CKR_SESSION_CLOSED}

// serve serves the card in dir into reader i until the end of the test.
func serve(t *testing.T, dir string, i int, args ...string) *harness.Card {
	t.Helper()
	c, err := pc.StartCard(dir, i, args...)
	if err != nil {
		if c != nil {
			c.Stop()
		}
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Stop()
		_ = pc.WaitCard(i, false, 10*time.Second)
	})
	return c
}

// pull takes the card out and waits until pcscd sees it gone.
func pull(t *testing.T, c *harness.Card) {
	t.Helper()
	if err := c.Pull(); err != nil {
		t.Fatal(err)
	}
	if err := pc.WaitCard(c.Reader, false, 10*time.Second); err != nil {
		t.Fatal(err)
	}
}

// insert puts the card back and waits until pcscd sees it.
func insert(t *testing.T, c *harness.Card) {
	t.Helper()
	if err := c.Insert(); err != nil {
		t.Fatal(err)
	}
	if err := pc.WaitCard(c.Reader, true, 10*time.Second); err != nil {
		t.Fatal(err)
	}
}

// start starts a host on the private pcscd and initialises the module.
func start(t *testing.T) *host.Host {
	t.Helper()
	h := host.Start(t, pc.Env())
	host.Expect(t, "C_Initialize", h.Call(call, "init"), ck.CKR_OK)
	return h
}

// open opens a session on slot.
func open(t *testing.T, h *host.Host, slot int) uint64 {
	t.Helper()
	r := h.Call(call, "open", slot)
	host.Expect(t, "C_OpenSession", r, ck.CKR_OK)
	return r.Uint(0)
}

// find returns the handles of the objects of class cls.
func find(t *testing.T, h *host.Host, s uint64, cls ck.ULong) []uint64 {
	t.Helper()
	r := h.Call(call, "find", s, cls)
	host.Expect(t, "find", r, ck.CKR_OK)
	var out []uint64
	for i := range r.Fields {
		out = append(out, r.Uint(i))
	}
	return out
}

// one returns the only object of class cls.
func one(t *testing.T, h *host.Host, s uint64, cls ck.ULong) uint64 {
	t.Helper()
	objs := find(t, h, s, cls)
	if len(objs) != 1 {
		t.Fatalf("objects of class %#x: %v, want exactly one", cls, objs)
	}
	return objs[0]
}

// certValues reads the CKA_VALUE of every certificate of the session's token
// (the holder's and its CA's).
func certValues(t *testing.T, h *host.Host, s uint64) [][]byte {
	t.Helper()
	var out [][]byte
	for _, o := range find(t, h, s, ck.CKO_CERTIFICATE) {
		r := h.Call(call, "attr", s, o, ck.CKA_VALUE)
		host.Expect(t, "C_GetAttributeValue(CKA_VALUE)", r, ck.CKR_OK)
		v, err := hex.DecodeString(r.Field(0))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		t.Fatal("no certificate on the token")
	}
	return out
}

// showsCert reports whether the token shows certificate cert.
func showsCert(t *testing.T, h *host.Host, s uint64, cert []byte) bool {
	t.Helper()
	for _, v := range certValues(t, h, s) {
		if bytes.Equal(v, cert) {
			return true
		}
	}
	return false
}

// login logs the session's token in (already logged in is fine).
func login(t *testing.T, h *host.Host, s uint64, pin string) {
	t.Helper()
	host.Expect(t, "C_Login", h.Call(call, "login", s, pin), ck.CKR_OK, ck.CKR_USER_ALREADY_LOGGED_IN)
}

// signVerified signs 32 random bytes with the session's private key and checks the
// signature against the certificate cert (DER).
func signVerified(t *testing.T, h *host.Host, s uint64, cert []byte) {
	t.Helper()
	key := one(t, h, s, ck.CKO_PRIVATE_KEY)
	data := randomData()
	r := h.Call(call, "signkey", s, key, ck.CKM_SHA256_RSA_PKCS, hex.EncodeToString(data))
	host.Expect(t, "C_Sign", r, ck.CKR_OK)
	if err := verify(cert, data, r.Field(0)); err != nil {
		t.Fatal(err)
	}
}

// notLoggedIn checks that a signature needs a login now: C_SignInit (or, for a key
// with CKA_ALWAYS_AUTHENTICATE, C_Sign) answers CKR_USER_NOT_LOGGED_IN.
func notLoggedIn(t *testing.T, h *host.Host, s uint64, what string) {
	t.Helper()
	key := one(t, h, s, ck.CKO_PRIVATE_KEY)
	r := h.Call(call, "signkey", s, key, ck.CKM_SHA256_RSA_PKCS, hex.EncodeToString(randomData()))
	host.Expect(t, what, r, ck.CKR_USER_NOT_LOGGED_IN)
}

func randomData() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return b
}

// verify checks an RSA PKCS #1 v1.5 SHA-256 signature (hex) over data.
func verify(cert, data []byte, sigHex string) error {
	c, err := x509.ParseCertificate(cert)
	if err != nil {
		return err
	}
	sig, err := hex.DecodeString(sigHex)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	return rsa.VerifyPKCS1v15(c.PublicKey.(*rsa.PublicKey), crypto.SHA256, sum[:], sig)
}

// waitAPDU waits until pcscd logged a command APDU starting with prefix ("80 2A")
// since mark, up to timeout.
func waitAPDU(t *testing.T, mark int64, prefix string, timeout time.Duration) bool {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		apdus, err := pc.APDUs(mark)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range apdus {
			if strings.HasPrefix(a, prefix) {
				return true
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

// count counts the command APDUs since mark that start with prefix.
func count(t *testing.T, mark int64, prefix string) int {
	t.Helper()
	apdus, err := pc.APDUs(mark)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, a := range apdus {
		if strings.HasPrefix(a, prefix) {
			n++
		}
	}
	return n
}

// slots returns the slots with a token.
func slots(t *testing.T, h *host.Host) []uint64 {
	t.Helper()
	r := h.Call(call, "slots", 1)
	host.Expect(t, "C_GetSlotList(TRUE)", r, ck.CKR_OK)
	var out []uint64
	for i := range r.Fields {
		out = append(out, r.Uint(i))
	}
	return out
}

func has(list []uint64, v uint64) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// apdusSince returns the command APDUs pcscd logged since mark.
func apdusSince(t *testing.T, mark int64) []string {
	t.Helper()
	a, err := pc.APDUs(mark)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
