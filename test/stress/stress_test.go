// Package stress runs 16 threads of a C host (test/faults/driver/p11script.c, the
// module loaded with dlopen, never into this Go process) over sessions of both
// tokens of two virtual cards for a bounded time: finding objects, reading the
// certificate, C_GetTokenInfo, logging in and signing, logging out. Meanwhile the
// card in reader 0 is pulled out and put back at random; the card in reader 1 is
// never touched. It asserts: no crash and no hang (a watchdog kills the host and
// fails the test), every signature that came back verifies against its token's
// certificate, every certificate value is the card's, every CK_RV is in the set
// allowed for its card, and no PIN try was spent.
//
// STRESS_SECONDS sets the duration (default 20; `make stress` runs longer).
package stress

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jpki-pkcs11/jpki-pkcs11/ck"
	"github.com/jpki-pkcs11/jpki-pkcs11/test/faults/host"
	"github.com/jpki-pkcs11/jpki-pkcs11/test/harness"
)

const (
	authPIN = "1234"
	signPIN = "ABC123"
	threads = 16
)

var pc *harness.PCSC

func TestMain(m *testing.M) {
	os.Exit(harness.Main(m, "stress", func(p *harness.PCSC) error { pc = p; return nil }))
}

// duration is STRESS_SECONDS (default 20 s).
func duration(t *testing.T) time.Duration {
	s := os.Getenv("STRESS_SECONDS")
	if s == "" {
		return 20 * time.Second
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		t.Fatalf("STRESS_SECONDS=%q: want a positive number of seconds", s)
	}
	return time.Duration(n) * time.Second
}

// Allowed answers. On the untouched card a concurrent C_Logout of another thread
// may end the token's login between C_Login and C_Sign (and hide the private
// objects another thread found); C_Login may find the token already logged in. On the pulled card the removal family comes on top.
var (
	steady = []ck.RV{ck.CKR_OK, ck.CKR_USER_NOT_LOGGED_IN, ck.CKR_USER_ALREADY_LOGGED_IN,
		ck.CKR_OBJECT_HANDLE_INVALID} // a private object found before another thread's C_Logout
	pulled = append([]ck.RV{ck.CKR_DEVICE_REMOVED, ck.CKR_TOKEN_NOT_PRESENT, ck.CKR_SESSION_HANDLE_INVALID,
		ck.CKR_SESSION_CLOSED, ck.CKR_OBJECT_HANDLE_INVALID, ck.CKR_KEY_HANDLE_INVALID,
		// A pull shorter than pcscd's reader poll (0.4 s with vpcd) is invisible to
		// PC/SC: the command in flight is "not transacted" while the reader still
		// shows the card, and stays so for card/pcsc's settle time; the module then
		// says CKR_DEVICE_ERROR for that call (and forgets the login).
		ck.CKR_DEVICE_ERROR}, steady...)
)

// token is one of the four tokens under stress.
type token struct {
	slot   int
	pin    string
	cert   string // the holder's certificate file
	ca     string
	pulled bool
	key    *rsa.PublicKey
}

func TestStress(t *testing.T) {
	secs := duration(t)
	var dirs [2]string
	for i := range dirs {
		d, err := pc.NewCardDir(fmt.Sprintf("card%d", i), "--auth-pin", authPIN, "--sign-pin", signPIN)
		if err != nil {
			t.Fatal(err)
		}
		dirs[i] = d
	}
	a, err := pc.StartCard(dirs[0], 0)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Stop()
	b, err := pc.StartCard(dirs[1], 1)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Stop()

	var toks []*token
	for i, d := range dirs {
		toks = append(toks,
			&token{slot: 2 * i, pin: authPIN, cert: filepath.Join(d, "auth.der"), ca: filepath.Join(d, "authca.der"), pulled: i == 0},
			&token{slot: 2*i + 1, pin: signPIN, cert: filepath.Join(d, "sign.der"), ca: filepath.Join(d, "signca.der"), pulled: i == 0})
	}
	bySlot := map[int]*token{}
	args := []any{"stress", secs.Seconds(), threads}
	for _, tk := range toks {
		der, err := os.ReadFile(tk.cert)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		tk.key = c.PublicKey.(*rsa.PublicKey)
		bySlot[tk.slot] = tk
		args = append(args, fmt.Sprintf("%d,%s,%s,%s", tk.slot, tk.pin, tk.cert, tk.ca))
	}

	h := host.Start(t, pc.Env())
	host.Expect(t, "C_Initialize", h.Call(30*time.Second, "init"), ck.CKR_OK)
	run := h.Async(args...)

	// Pull card A and put it back at random until the host is done.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	removals := 0
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Duration(200+rand.IntN(1300)) * time.Millisecond):
			}
			if err := a.Pull(); err != nil {
				t.Error(err)
				return
			}
			removals++
			select {
			case <-stop:
			case <-time.After(time.Duration(100+rand.IntN(700)) * time.Millisecond):
			}
			if err := a.Insert(); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	r, ok := run.TryWait(secs + 90*time.Second)
	close(stop)
	wg.Wait()
	if !ok {
		t.Fatalf("stress: the host did not finish within %v (deadlock or crash): %v\n%s", secs+90*time.Second, h.ExitErr(), h.Diagnose())
	}
	host.Expect(t, "stress", r, ck.CKR_OK)
	ops, _ := strconv.Atoi(r.Field(0))
	t.Logf("the host's threads ran for %s s (asked: %v)", r.Field(2), secs)

	failures, sigs, deviceErrors := 0, 0, 0
	tallies := map[string]uint64{}
	for _, d := range r.Data {
		switch d[0] {
		case "sig":
			tk := bySlot[atoi(d[1])]
			data, _ := hex.DecodeString(d[2])
			sig, _ := hex.DecodeString(d[3])
			sum := sha256.Sum256(data)
			if err := rsa.VerifyPKCS1v15(tk.key, crypto.SHA256, sum[:], sig); err != nil {
				failures++
				t.Errorf("slot %d: a signature returned with CKR_OK does not verify: %v", tk.slot, err)
			}
			sigs++
		case "wrong-cert":
			failures++
			t.Errorf("slot %s: a certificate value that is not the card's (%s bytes)", d[1], d[2])
		case "rv":
			tk := bySlot[atoi(d[1])]
			rv64, _ := strconv.ParseUint(d[3], 0, 64)
			rv, n := ck.RV(rv64), uint64(atoi(d[4]))
			tallies[fmt.Sprintf("slot %d %s %v", tk.slot, d[2], rv)] += n
			if rv == ck.CKR_DEVICE_ERROR {
				deviceErrors += int(n)
			}
			allowed := steady
			if tk.pulled {
				allowed = pulled
			}
			if !contains(allowed, rv) {
				failures += int(n)
				t.Errorf("slot %d: %s answered %v %d times (not allowed here)", tk.slot, d[2], rv, n)
			}
		}
	}
	keys := make([]string, 0, len(tallies))
	for k := range tallies {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b2 strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b2, "  %s: %d\n", k, tallies[k])
	}
	t.Logf("answers:\n%s", b2.String())
	if failures > 0 {
		t.Logf("module debug log, errors (first 40):\n%s", errorLines(h.DebugLog, 40))
		if b, err := os.ReadFile(h.DebugLog); err == nil {
			_ = os.WriteFile(filepath.Join(pc.Dir, "module-debug.log"), b, 0o644)
		}
	}

	// No PIN try was spent: every counter is full.
	if err := a.Insert(); err != nil {
		t.Fatal(err)
	}
	if err := pc.WaitCard(0, true, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	for _, tk := range toks {
		var ti host.Reply
		for i := 0; i < 50; i++ {
			if ti = h.Call(30*time.Second, "tokinfo", tk.slot); ti.RV == ck.CKR_OK {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		host.Expect(t, fmt.Sprintf("C_GetTokenInfo(slot %d) after the stress", tk.slot), ti, ck.CKR_OK)
		if f := ck.ULong(ti.Uint(0)); f&(ck.CKF_USER_PIN_COUNT_LOW|ck.CKF_USER_PIN_FINAL_TRY|ck.CKF_USER_PIN_LOCKED) != 0 {
			failures++
			t.Errorf("slot %d: PIN counter flags %#x: a try was spent", tk.slot, f)
		}
	}
	host.Expect(t, "C_Finalize", h.Call(30*time.Second, "fin"), ck.CKR_OK)
	if err, ok := h.Exit(30 * time.Second); !ok || err != nil {
		t.Fatalf("host exit: %v (ended %v)", err, ok)
	}
	if sigs == 0 {
		t.Error("no signature completed: the stress did not exercise signing")
	}
	t.Logf("STRESS RESULT: %v, %d threads, %d operations, %d signatures verified, %d card removals, "+
		"%d CKR_DEVICE_ERROR on a pulled card (PC/SC still showed it), %d failures",
		secs, threads, ops, sigs, removals, deviceErrors, failures)
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

func contains(list []ck.RV, v ck.RV) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// errorLines returns the first n lines of the module's debug log that report an
// error (for a post-mortem of an answer outside the allowed set).
func errorLines(path string, n int) string {
	b, _ := os.ReadFile(path)
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if len(out) < n && (strings.Contains(l, "err=") || strings.Contains(l, "DEVICE_ERROR") || strings.Contains(l, "level=WARN")) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
