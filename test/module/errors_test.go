package module

import (
	"crypto/rand"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jpki-pkcs11/jpki-pkcs11/test/clients/clienttest"
)

// TestReturnValues asserts the CKR paths pkcs11-tool can reach, each from its
// "rv = CKR_..." message (the others are in the C ABI test, test/cabi).
func TestReturnValues(t *testing.T) {
	fx.ServeCard(t, fx.CardDir(t, "normal"), 0)
	env := clienttest.Env(t)
	slots := clienttest.ParseSlots(tool(t, env, "-L"))
	r := slotsOf(t, slots, 0)
	dir := t.TempDir()
	small := make([]byte, 100)
	big := make([]byte, 246) // CKM_RSA_PKCS takes at most k-11 = 245 bytes
	_, _ = rand.Read(small)
	_, _ = rand.Read(big)
	smallFile := clienttest.WriteFile(t, dir, "small", small, 0o600)
	bigFile := clienttest.WriteFile(t, dir, "big", big, 0o600)
	out := filepath.Join(dir, "out")
	var emptySlot int
	for _, s := range slots {
		if strings.HasPrefix(s.Description, "Virtual PCD 00 01") {
			emptySlot = s.ID
			break
		}
	}
	login := func(slot int, pin string, args ...string) []string {
		return append(append(slotArg(slot), "--login", "--pin", pin), args...)
	}
	for _, c := range []struct {
		name, rv string
		args     []string
	}{
		{"slot id invalid", "CKR_SLOT_ID_INVALID", []string{"--slot", "4099", "-O"}},
		{"token not present", "CKR_TOKEN_NOT_PRESENT", append(slotArg(emptySlot), "-O")},
		{"SO login", "CKR_USER_TYPE_INVALID", append(slotArg(r.auth), "--login", "--login-type", "so", "--so-pin", "1234", "-O")},
		{"context login without operation", "CKR_OPERATION_NOT_INITIALIZED",
			append(slotArg(r.auth), "--login", "--login-type", "context-specific", "--pin", clienttest.AuthPIN, "-O")},
		{"wrong PIN", "CKR_PIN_INCORRECT", append(slotArg(r.sign), "--login", "--pin", "ZZZZZZ", "-O")},
		{"unknown mechanism", "CKR_MECHANISM_INVALID", login(r.auth, clienttest.AuthPIN, "--sign", "-m", "MD5-RSA-PKCS", "--id", "01", "-i", smallFile, "-o", out)},
		{"EC mechanism on an RSA key", "CKR_MECHANISM_INVALID", login(r.auth, clienttest.AuthPIN, "--sign", "-m", "ECDSA", "--id", "01", "-i", smallFile, "-o", out)},
		{"RSA-PKCS input too long", "CKR_DATA_LEN_RANGE", login(r.auth, clienttest.AuthPIN, "--sign", "-m", "RSA-PKCS", "--id", "01", "-i", bigFile, "-o", out)},
		{"decrypt", "CKR_FUNCTION_NOT_SUPPORTED", login(r.auth, clienttest.AuthPIN, "--decrypt", "-m", "RSA-PKCS", "--id", "01", "-i", smallFile, "-o", out)},
		{"create object", "CKR_TOKEN_WRITE_PROTECTED", login(r.auth, clienttest.AuthPIN, "--write-object", smallFile, "--type", "data", "--label", "x")},
		{"destroy object", "CKR_TOKEN_WRITE_PROTECTED", login(r.auth, clienttest.AuthPIN, "--delete-object", "--type", "cert", "--id", "01")},
		{"init token", "CKR_FUNCTION_NOT_SUPPORTED", append(slotArg(r.auth), "--init-token", "--label", "x", "--so-pin", "12345678")},
		{"change PIN to a malformed one", "CKR_PIN_LEN_RANGE", login(r.auth, clienttest.AuthPIN, "--change-pin", "--new-pin", "12345")},
	} {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) { toolFails(t, env, c.rv, c.args...) })
	}
	// The wrong PIN cost a try of the shared card: a good login restores the tries.
	tool(t, env, append(slotArg(r.sign), "--login", "--pin", clienttest.SignPIN, "-O")...)
	// C_GenerateRandom: pkcs11-tool prints no rv; the module's log has it.
	t.Run("no RNG", func(t *testing.T) {
		e := clienttest.Env(t)
		toolFails(t, e, "", append(slotArg(r.auth), "--generate-random", "16")...)
		if log := readDebugLog(t, e); !strings.Contains(log, "rv=CKR_RANDOM_NO_RNG") {
			t.Fatalf("C_GenerateRandom: no CKR_RANDOM_NO_RNG in the module log:\n%s", log)
		}
	})
}

// TestPKCS11ToolTest: `pkcs11-tool --test` with login passes on both tokens ("No
// errors"; its exit code ignores errors), in the default layout and with the
// authentication token shown alone (tokens=auth), where it is login-required and
// pkcs11-tool runs the parts that need a user session too.
func TestPKCS11ToolTest(t *testing.T) {
	fx.ServeCard(t, fx.CardDir(t, "normal"), 0)
	for _, layout := range []struct{ name, env string }{{"default", ""}, {"tokens=auth", "JPKI_PKCS11_TOKENS=auth"}} {
		t.Run(layout.name, func(t *testing.T) {
			var env []string
			if layout.env == "" {
				env = clienttest.Env(t)
			} else {
				env = clienttest.Env(t, layout.env)
			}
			slots := clienttest.ParseSlots(tool(t, env, "-L"))
			r := slotsOf(t, slots, 0)
			keys := []struct {
				slot int
				pin  string
			}{{r.auth, clienttest.AuthPIN}}
			if layout.env == "" {
				keys = append(keys, struct {
					slot int
					pin  string
				}{r.sign, clienttest.SignPIN})
			}
			for _, k := range keys {
				out, _ := fx.PKCS11Tool(t, env, append(slotArg(k.slot), "--login", "--pin", k.pin, "--test", "--allow-sw")...)
				clienttest.Contains(t, "pkcs11-tool --test", out, "No errors", "all 4 signature functions seem to work", "all 4 digest functions seem to work")
			}
		})
	}
}

// TestForkedChild: pkcs11-tool --test-fork calls C_Initialize in a forked child;
// the module refuses the Go runtime there (an error, decided in C: the child exits
// with status 1, it does not crash), and the parent carries on.
func TestForkedChild(t *testing.T) {
	fx.ServeCard(t, fx.CardDir(t, "normal"), 0)
	env := clienttest.Env(t)
	r := slotsOf(t, clienttest.ParseSlots(tool(t, env, "-L")), 0)
	out, _ := fx.PKCS11Tool(t, env, append(slotArg(r.auth), "--test-fork")...)
	clienttest.Contains(t, "pkcs11-tool --test-fork", out, "*** Calling C_Initialize in forked child process ***",
		"Child process exited with status 256")
}
