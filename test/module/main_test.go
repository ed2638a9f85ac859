// Package module drives build/jpki-pkcs11.so with OpenSC's pkcs11-tool against
// virtual My Number Cards behind a private pcscd (issue "The PKCS#11 module", its
// "Done when" list): -L, -T, -O before and after login, -M, --sign with each
// mechanism verified by openssl against the exported certificate, --change-pin,
// --test; a normal card, an under-15 card, a Juki card, blocked PINs, two readers
// at once, removal and re-insertion; and every CKR path pkcs11-tool can reach
// (the others are covered by the C ABI test, test/cabi).
package module

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/jpki-pkcs11/jpki-pkcs11/test/clients/clienttest"
	"github.com/jpki-pkcs11/jpki-pkcs11/test/harness"
)

// fx is this test process's private pcscd and module.
var fx clienttest.Fixture

func TestMain(m *testing.M) { os.Exit(clienttest.Main(m, &fx)) }

// Regular expressions on the APDUs pcscd logs ("00 20 00 80 04 ..."): VERIFY with a
// PIN (the no-cost query of the tries has no data) and CHANGE REFERENCE DATA.
const (
	verifyAPDU    = `^00 20 00 80 [0-9A-F]{2} `
	changePINAPDU = `^00 24 01 80 `
)

// tool runs pkcs11-tool with the module and fails the test if it fails.
func tool(t *testing.T, env []string, args ...string) string {
	t.Helper()
	return fx.MustPKCS11Tool(t, env, args...)
}

// toolFails runs pkcs11-tool, which must fail; if rv is not "" its output must
// name that return value ("rv = CKR_PIN_INCORRECT (0xa0)").
func toolFails(t *testing.T, env []string, rv string, args ...string) string {
	t.Helper()
	out, err := fx.PKCS11Tool(t, env, args...)
	if err == nil {
		t.Fatalf("pkcs11-tool %s succeeded, want %s:\n%s", strings.Join(args, " "), rv, out)
	}
	if rv != "" && !strings.Contains(out, "rv = "+rv+" (") {
		t.Fatalf("pkcs11-tool %s: want %s:\n%s", strings.Join(args, " "), rv, out)
	}
	return out
}

// readerSlots are the slot ids of the two tokens of the card in reader i.
type readerSlots struct{ auth, sign int }

// slotsOf finds, in `pkcs11-tool -L` output, the slots of reader i: the one whose
// token is the authentication token and the one for the signature token (-1 when
// that slot is empty).
func slotsOf(t *testing.T, slots []clienttest.Slot, i int) readerSlots {
	t.Helper()
	rs := readerSlots{-1, -1}
	n := 0
	for _, s := range slots {
		if !strings.HasPrefix(s.Description, harness.ReaderName(i)) {
			continue
		}
		n++
		switch s.Token {
		case clienttest.AuthToken:
			rs.auth = s.ID
		case clienttest.SignToken:
			rs.sign = s.ID
		}
	}
	if n != 2 {
		t.Fatalf("reader %d has %d slots, want 2: %+v", i, n, slots)
	}
	return rs
}

// slotArg is the --slot argument for slot id s.
func slotArg(s int) []string { return []string{"--slot", strconv.Itoa(s)} }

// exportCert reads the certificate with CKA_ID id from the slot with pkcs11-tool
// (after login when pin is not "") and returns its public key as a PEM file; the
// exported certificate must be the card's file der.
func exportCert(t *testing.T, env []string, c *clienttest.Card, slot int, pin, id, der string) string {
	t.Helper()
	dir := t.TempDir()
	out := filepath.Join(dir, "cert.der")
	args := append(slotArg(slot), "--read-object", "--type", "cert", "--id", id, "-o", out)
	if pin != "" {
		args = append(args, "--login", "--pin", pin)
	}
	tool(t, env, args...)
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join(c.Dir, der))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatalf("exported certificate %s differs from the card's %s", id, der)
	}
	pub := filepath.Join(dir, "pub.pem")
	clienttest.MustRun(t, nil, "openssl", "x509", "-inform", "der", "-in", out, "-pubkey", "-noout", "-out", pub)
	return pub
}
