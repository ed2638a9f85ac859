package pinsafety

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jpki-pkcs11/jpki-pkcs11/card"
	"github.com/jpki-pkcs11/jpki-pkcs11/test/harness"
)

// Token labels of the module (session/slots.go).
var tokenLabels = map[card.Key]string{card.AuthKey: "JPKI Authentication", card.SignKey: "JPKI Signature"}

// p11 runs pkcs11-tool on the built module in its own process (never in this
// one), with the private pcscd and the module's debug log at debugLog.
type p11 struct {
	t        *testing.T
	lib      string
	debugLog string
}

func newP11(t *testing.T) *p11 {
	t.Helper()
	if _, err := exec.LookPath("pkcs11-tool"); err != nil {
		t.Fatalf("pkcs11-tool not installed (make deps): %v", err)
	}
	lib, err := harness.Module()
	if err != nil {
		t.Fatal(err)
	}
	return &p11{t: t, lib: lib, debugLog: filepath.Join(t.TempDir(), "jpki-pkcs11-debug.log")}
}

// run runs pkcs11-tool with args; it returns the combined output and the exit
// code (-1 when it did not end within the bound: a hang is a failure).
func (p *p11) run(args ...string) (string, int) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "pkcs11-tool", append([]string{"--module", p.lib}, args...)...)
	cmd.Env = append(pc.Env(), "JPKI_PKCS11_DEBUG="+p.debugLog)
	cmd.Stdin = nil // /dev/null: no PIN prompt can block
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		p.t.Fatalf("pkcs11-tool %v did not finish in 60 s (hang): %s", args, out)
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		p.t.Fatalf("pkcs11-tool %v: %v", args, err)
	}
	return string(out), code
}

var slotLine = regexp.MustCompile(`^Slot \d+ \((0x[0-9a-fA-F]+)\): (.*)$`)

// slots maps each key's token in reader i to its slot ID (from pkcs11-tool -L).
func (p *p11) slots(i int) map[card.Key]string {
	p.t.Helper()
	out, code := p.run("-L")
	if code != 0 {
		p.t.Fatalf("pkcs11-tool -L: exit %d: %s", code, out)
	}
	got := map[card.Key]string{}
	slot, inReader := "", false
	for _, line := range strings.Split(out, "\n") {
		if m := slotLine.FindStringSubmatch(line); m != nil {
			slot, inReader = m[1], strings.Contains(m[2], harness.ReaderName(i))
			continue
		}
		f := strings.SplitN(strings.TrimSpace(line), ":", 2)
		if len(f) == 2 && strings.TrimSpace(f[0]) == "token label" && inReader {
			for k, l := range tokenLabels {
				if strings.TrimSpace(f[1]) == l {
					got[k] = slot
				}
			}
		}
	}
	if len(got) != 2 {
		p.t.Fatalf("tokens of reader %d not found in pkcs11-tool -L:\n%s", i, out)
	}
	return got
}

// login runs `pkcs11-tool --slot S --login --pin=PIN -O`.
func (p *p11) login(slot, pin string) (string, int) {
	p.t.Helper()
	return p.run("--slot", slot, "--login", "--pin="+pin, "-O")
}

// TestModuleMalformedPINsNeverReachTheCard: the malformed-PIN table through the
// built module and pkcs11-tool: each login fails (non-zero exit), pcscd's APDU
// log shows no VERIFY with data, no retry counter moves. PINs with a NUL byte
// cannot be passed in argv and are left to the card-layer test and the C ABI test.
func TestModuleMalformedPINsNeverReachTheCard(t *testing.T) {
	p := newP11(t)
	_, dir := startCard(t, 0)
	slots := p.slots(0)
	for _, k := range []card.Key{card.AuthKey, card.SignKey} {
		stateBefore := harness.ReadCardState(t, dir)
		if n := freshTries(t, 0, k); n != k.MaxTries() {
			t.Fatalf("%v tries before: %d", k, n)
		}
		mark := pc.Mark()
		for _, pin := range malformed(k) {
			if strings.ContainsRune(pin, 0) {
				continue
			}
			t.Run(fmt.Sprintf("%v/%q", k, pin), func(t *testing.T) {
				out, code := p.login(slots[k], pin)
				if code == 0 {
					t.Errorf("login with %q succeeded:\n%s", pin, out)
				}
				if strings.Contains(out, "CKR_PIN_LOCKED") || strings.Contains(out, "CKR_GENERAL_ERROR") {
					t.Errorf("login with %q:\n%s", pin, out)
				}
				if s := harness.ReadCardState(t, dir); s != stateBefore {
					t.Errorf("state.json counters moved: %+v -> %+v", stateBefore, s)
				}
			})
		}
		if n := freshTries(t, 0, k); n != k.MaxTries() {
			t.Errorf("%v tries after the malformed PINs: %d, want %d", k, n, k.MaxTries())
		}
		settle(t, mark)
		if n := countAPDUs(t, mark, anyPINData); n != 0 {
			t.Errorf("%v: pcscd logged %d VERIFY/CHANGE commands with data for malformed PINs", k, n)
		}
	}
	debug, _ := os.ReadFile(p.debugLog)
	noPIN(t, "the module's debug log", withoutPIDs(debug), authPIN, signPIN)
	noLiteral(t, "the module's debug log", withoutPIDs(debug), append(malformed(card.AuthKey), malformed(card.SignKey)...))
}

// TestModuleSetPINMalformedNewPIN: C_SetPIN (pkcs11-tool --change-pin) with the
// right old PIN and a malformed new one is refused before anything of it reaches
// the card: no CHANGE REFERENCE DATA, no VERIFY of the old PIN by C_SetPIN (the one
// VERIFY per run is pkcs11-tool's own C_Login before C_SetPIN), no try spent, the
// PIN unchanged.
func TestModuleSetPINMalformedNewPIN(t *testing.T) {
	p := newP11(t)
	_, dir := startCard(t, 0)
	slots := p.slots(0)
	for _, tc := range []struct {
		k    card.Key
		good string
		bad  []string
	}{
		{card.AuthKey, authPIN, []string{"739", "73910", "abcd", "７３９１", "73 1", "7391\n"}},
		{card.SignKey, signPIN, []string{"QWERT", "QWERTY7391QWERTY7", "QWERTY 739", "ＱＷＥＲＴＹ", "QWERTY-7391", "QWERTY739\t"}},
	} {
		stateBefore := harness.ReadCardState(t, dir)
		mark := pc.Mark()
		for _, bad := range tc.bad {
			t.Run(fmt.Sprintf("%v/%q", tc.k, bad), func(t *testing.T) {
				out, code := p.run("--slot", slots[tc.k], "--change-pin", "--pin="+tc.good, "--new-pin="+bad)
				if code == 0 || !strings.Contains(out, "C_SetPIN failed") {
					t.Errorf("PIN change to %q: exit %d, want C_SetPIN to fail:\n%s", bad, code, out)
				}
				if s := harness.ReadCardState(t, dir); s != stateBefore {
					t.Errorf("state.json counters moved: %+v -> %+v", stateBefore, s)
				}
			})
		}
		if n := freshTries(t, 0, tc.k); n != tc.k.MaxTries() {
			t.Errorf("%v tries after the refused PIN changes: %d", tc.k, n)
		}
		settle(t, mark)
		if n := countAPDUs(t, mark, changeWithData); n != 0 {
			t.Errorf("%v: pcscd logged %d CHANGE REFERENCE DATA commands for malformed new PINs", tc.k, n)
		}
		if n := countAPDUs(t, mark, verifyWithData); n != len(tc.bad) {
			t.Errorf("%v: pcscd logged %d VERIFY with data for %d runs, want one per run (pkcs11-tool's C_Login only)", tc.k, n, len(tc.bad))
		}
		// The old PIN still works: nothing was changed.
		mark = pc.Mark()
		if out, code := p.login(slots[tc.k], tc.good); code != 0 {
			t.Errorf("%v: login with the unchanged PIN: exit %d:\n%s", tc.k, code, out)
		}
	}
}

// TestModuleWrongPINCostsOneTryAndNoPINLogged: through the module, a wrong
// well-formed PIN costs exactly one try with exactly one VERIFY (no retry), a
// good PIN logs in with exactly one VERIFY and restores the counter, and neither
// the module's debug log nor the virtual card's log holds any PIN.
func TestModuleWrongPINCostsOneTryAndNoPINLogged(t *testing.T) {
	p := newP11(t)
	c, dir := startCard(t, 1)
	slots := p.slots(1)
	for _, tc := range []struct {
		k           card.Key
		wrong, good string
	}{
		{card.AuthKey, wrongAuthPIN, authPIN},
		{card.SignKey, wrongSignPIN, signPIN},
	} {
		t.Run(tc.k.String(), func(t *testing.T) {
			before := freshTries(t, 1, tc.k)
			if before != tc.k.MaxTries() {
				t.Fatalf("tries before: %d", before)
			}
			mark := pc.Mark()
			out, code := p.login(slots[tc.k], tc.wrong)
			if code == 0 || !strings.Contains(out, "CKR_PIN_INCORRECT") {
				t.Errorf("wrong PIN: exit %d, want CKR_PIN_INCORRECT:\n%s", code, out)
			}
			if n := freshTries(t, 1, tc.k); n != before-1 {
				t.Errorf("tries after one wrong PIN: %d, want %d", n, before-1)
			}
			oneVerify(t, mark, "one wrong PIN")
			wantStateTries(t, dir, tc.k, before-1)

			mark = pc.Mark()
			out, code = p.login(slots[tc.k], tc.good)
			if code != 0 {
				t.Errorf("good PIN: exit %d:\n%s", code, out)
			}
			if n := freshTries(t, 1, tc.k); n != tc.k.MaxTries() {
				t.Errorf("tries after the good PIN: %d", n)
			}
			oneVerify(t, mark, "one good login")
		})
	}
	debug, err := os.ReadFile(p.debugLog)
	if err != nil {
		t.Fatalf("the module wrote no debug log (%s=%s): %v", "JPKI_PKCS11_DEBUG", p.debugLog, err)
	}
	if !strings.Contains(string(debug), "C_Login") {
		t.Errorf("the module's debug log does not mention C_Login: the check below would prove little")
	}
	noPIN(t, "the module's debug log", withoutPIDs(debug), authPIN, signPIN, wrongAuthPIN, wrongSignPIN)
	noPIN(t, "the virtual card's --log", c.Log(), authPIN, signPIN, wrongAuthPIN, wrongSignPIN)
}

// noLiteral fails the test when log holds one of the malformed PINs as typed (or
// Go-quoted); PINs too short or too plain to be told from other text are left out.
func noLiteral(t *testing.T, what, log string, pins []string) {
	t.Helper()
	for _, p := range pins {
		if len(p) < 6 || strings.TrimSpace(p) == "" || strings.ContainsRune(p, 0) {
			continue
		}
		for _, form := range []string{p, strings.Trim(fmt.Sprintf("%q", p), `"`)} {
			if strings.Contains(strings.ToUpper(log), strings.ToUpper(form)) {
				t.Errorf("%s holds the malformed PIN %q", what, p)
			}
		}
	}
}

var pidField = regexp.MustCompile(`pid=[0-9]+`)

// withoutPIDs blanks the process IDs of the module's log lines (a pkcs11-tool
// process may well be number 7391).
func withoutPIDs(log []byte) string { return pidField.ReplaceAllString(string(log), "pid=N") }
