// Package faults proves that the built module survives the faults of the real
// world and says so with the right CK_RV: a card pulled out between calls, while a
// certificate is read or a signature computed; a different card put in its place;
// a card reset or reselected by another application; another application holding
// a long PC/SC transaction; pcscd killed and restarted; the reader going away; a
// slow card finalized under a blocked call; and the lifetime and read-only
// conformance rules (fork+exec, atexit, C_Initialize/C_Finalize cycles, write
// protection). Everything runs against a private pcscd with virtual My Number Cards
// (test/harness); the module runs in a C host (test/faults/driver/p11script.c,
// through test/faults/host), never in this Go process.
package faults

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/jpki-pkcs11/jpki-pkcs11/test/harness"
)

// PINs of every card made here (right PINs only: no test spends a try).
const (
	authPIN = "1234"
	signPIN = "ABC123"
)

var (
	pc *harness.PCSC
	// cardA and cardB are the usual cards (reader 0 and reader 1); cardC is the
	// "different card" put in A's place.
	cardA, cardB, cardC string
)

func TestMain(m *testing.M) {
	os.Exit(harness.Main(m, "faults", func(p *harness.PCSC) error {
		for _, c := range []struct {
			dir  *string
			name string
		}{{&cardA, "A"}, {&cardB, "B"}, {&cardC, "C"}} {
			d, err := p.NewCardDir("card"+c.name, "--auth-pin", authPIN, "--sign-pin", signPIN)
			if err != nil {
				return fmt.Errorf("jpki-vcard new: %w", err)
			}
			*c.dir = d
		}
		pc = p
		return nil
	}))
}

// certOf returns a card's certificate file (auth.der, sign.der, ...).
func certOf(t *testing.T, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
