package faults

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jpki-pkcs11/jpki-pkcs11/ck"
	"github.com/jpki-pkcs11/jpki-pkcs11/test/faults/host"
)

// prompt bounds C_Finalize and the calls it interrupts: a hang check with a
// generous margin, not a performance assertion.
const prompt = 5 * time.Second

// TestFinalizeDuringWait: on a slow card (250 ms per APDU), C_Finalize while
// another thread is blocked in C_WaitForSlotEvent returns promptly and wakes it
// (CKR_CRYPTOKI_NOT_INITIALIZED); the module initialises again afterwards.
func TestFinalizeDuringWait(t *testing.T) {
	serve(t, cardA, 0, "--latency", "250ms")
	h := start(t)
	open(t, h, slotA) // the card is identified: later calls need no APDU
	// Drain the insertion events so that the wait blocks.
	for i := 0; i < 8; i++ {
		if h.Call(call, "wait", 1).RV == ck.CKR_NO_EVENT {
			break
		}
	}
	p := h.Async("wait", 0)
	if _, done := p.TryWait(time.Second); done {
		t.Fatal("C_WaitForSlotEvent did not block")
	}
	t0 := time.Now()
	host.Expect(t, "C_Finalize during C_WaitForSlotEvent", h.Call(prompt, "fin"), ck.CKR_OK)
	r := p.Wait(prompt)
	t.Logf("C_Finalize returned, the wait ended in %v with %v", time.Since(t0).Round(time.Millisecond), r.RV)
	host.Expect(t, "C_WaitForSlotEvent woken by C_Finalize", r, ck.CKR_CRYPTOKI_NOT_INITIALIZED)
	host.Expect(t, "C_Initialize again", h.Call(call, "init"), ck.CKR_OK)
	if !has(slots(t, h), slotA) {
		t.Fatal("no token after re-initialising")
	}
}

// TestFinalizeDuringSignature: C_Finalize while another thread's signature is on a
// slow card (250 ms per APDU) returns promptly; the signature returns (with any
// code: the library went away under it) without a crash; the module works again.
func TestFinalizeDuringSignature(t *testing.T) {
	serve(t, cardA, 0, "--latency", "250ms")
	h := start(t)
	s := open(t, h, slotA)
	key := one(t, h, s, ck.CKO_PRIVATE_KEY)
	login(t, h, s, authPIN)
	host.Expect(t, "C_SignInit", h.Call(call, "signinit", s, key, ck.CKM_SHA256_RSA_PKCS), ck.CKR_OK)
	mark := pc.Mark()
	p := h.Async("sign", s, hex.EncodeToString(randomData()))
	if !waitAPDU(t, mark, "80 2A", 20*time.Second) && !waitAPDU(t, mark, "00 A4", time.Second) {
		t.Fatalf("the signature never reached the card\n%s", h.Diagnose())
	}
	t0 := time.Now()
	host.Expect(t, "C_Finalize during a signature", h.Call(prompt, "fin"), ck.CKR_OK)
	fin := time.Since(t0)
	r := p.Wait(prompt)
	t.Logf("C_Finalize took %v; the signature ended with %v", fin.Round(time.Millisecond), r.RV)
	host.Expect(t, "C_Initialize again", h.Call(call, "init"), ck.CKR_OK)
	s2 := open(t, h, slotA)
	login(t, h, s2, authPIN)
	signVerified(t, h, s2, certOf(t, cardA, "auth.der"))
}

// TestInitializeFinalizeCycles: 100 C_Initialize/C_Finalize cycles in one process,
// each opening a session on the card and finding its objects.
func TestInitializeFinalizeCycles(t *testing.T) {
	serve(t, cardA, 0)
	h := host.Start(t, pc.Env())
	for i := 0; i < 100; i++ {
		host.Expect(t, "C_Initialize", h.Call(call, "init"), ck.CKR_OK)
		s := open(t, h, slotA)
		if n := len(find(t, h, s, ck.CKO_CERTIFICATE)); n == 0 {
			t.Fatalf("cycle %d: no certificate", i)
		}
		host.Expect(t, "C_Finalize", h.Call(call, "fin"), ck.CKR_OK)
	}
	host.Expect(t, "C_Finalize when finalized", h.Call(call, "fin"), ck.CKR_CRYPTOKI_NOT_INITIALIZED)
}

// TestAtExit: what NSS does: C_CloseAllSessions and C_Finalize from an atexit
// handler, with logged-in sessions on both tokens and, in the second case, a
// signature still running on a slow card in another thread when exit() is called.
func TestAtExit(t *testing.T) {
	for _, busy := range []bool{false, true} {
		name := "idle"
		if busy {
			name = "signing"
		}
		t.Run(name, func(t *testing.T) {
			var args []string
			if busy {
				args = []string{"--latency", "250ms"}
			}
			serve(t, cardA, 0, args...)
			h := start(t)
			s, s2 := open(t, h, slotA), open(t, h, slotASign)
			login(t, h, s, authPIN)
			login(t, h, s2, signPIN)
			host.Expect(t, "register the atexit handler", h.Call(call, "atexit"), ck.CKR_OK)
			if busy {
				key := one(t, h, s, ck.CKO_PRIVATE_KEY)
				mark := pc.Mark()
				h.Async("signkey", s, key, ck.CKM_SHA256_RSA_PKCS, hex.EncodeToString(randomData()))
				if !waitAPDU(t, mark, "80 2A", 20*time.Second) {
					t.Fatalf("the signature never reached the card\n%s", h.Diagnose())
				}
			}
			h.Async("exit", 0)
			err, ended := h.WaitExit(prompt + 5*time.Second)
			if !ended {
				t.Fatalf("the host hangs in exit\n%s", h.Diagnose())
			}
			if err != nil {
				t.Fatalf("the host exited with %v; lines %q", err, h.Other())
			}
			var report string
			for _, l := range h.Other() {
				if strings.HasPrefix(l, "atexit ") {
					report = l
				}
			}
			if report != "atexit 0x0 0x0" {
				t.Fatalf("atexit C_CloseAllSessions/C_Finalize: %q, want \"atexit 0x0 0x0\" (lines %q)", report, h.Other())
			}
		})
	}
}

// TestForkExec: a host with the module initialised and a logged-in session forks
// and the child execs pkcs11-tool, which loads the module afresh and lists the
// tokens; the parent goes on. The child's module selected the JPKI AP, which drops
// the card's verified PIN: the parent's next signature may answer
// CKR_USER_NOT_LOGGED_IN (the card refused; no PIN is re-sent), and signs after a
// new login.
func TestForkExec(t *testing.T) {
	serve(t, cardA, 0)
	h := start(t)
	s := open(t, h, slotA)
	login(t, h, s, authPIN)
	mod, err := host.Module()
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "pkcs11-tool.out")
	r := h.Call(time.Minute, "forkexec", out, "/usr/bin/pkcs11-tool", "--module", mod, "-L")
	host.Expect(t, "fork+exec", r, ck.CKR_OK)
	b, _ := os.ReadFile(out)
	if r.Field(0) != "0" || !strings.Contains(string(b), "JPKI") {
		t.Fatalf("pkcs11-tool in the forked child: exit %s\n%s", r.Field(0), b)
	}
	key := one(t, h, s, ck.CKO_PRIVATE_KEY)
	data := randomData()
	r = h.Call(call, "signkey", s, key, ck.CKM_SHA256_RSA_PKCS, hex.EncodeToString(data))
	host.Expect(t, "the parent's C_Sign after the child", r, ck.CKR_OK, ck.CKR_USER_NOT_LOGGED_IN)
	if r.RV == ck.CKR_OK {
		if err := verify(certOf(t, cardA, "auth.der"), data, r.Field(0)); err != nil {
			t.Fatal(err)
		}
	}
	login(t, h, s, authPIN)
	signVerified(t, h, s, certOf(t, cardA, "auth.der"))
}
