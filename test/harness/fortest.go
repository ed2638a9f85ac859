package harness

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jpki-pkcs11/jpki-pkcs11/card"
)

// NewCard makes a card for the running test (`jpki-vcard new` with the extra flags
// newArgs, in a directory named after the test) and serves it into reader i with
// ServeCard (extra serve flags serveArgs). It returns the card and its directory;
// any failure fails the test.
func (p *PCSC) NewCard(t testing.TB, i int, newArgs []string, serveArgs ...string) (*Card, string) {
	t.Helper()
	dir, err := p.NewCardDir(fmt.Sprintf("%s-%d-%d", strings.ReplaceAll(t.Name(), "/", "_"), i, time.Now().UnixNano()), newArgs...)
	if err != nil {
		t.Fatal(err)
	}
	return p.ServeCard(t, dir, i, serveArgs...), dir
}

// ServeCard serves the card in dir into reader i (extra serve flags serveArgs)
// until the test ends. The test's cleanup stops the card, fails the test unless
// the reader is empty within 10 s, and logs the card's APDU log when the test
// failed.
func (p *PCSC) ServeCard(t testing.TB, dir string, i int, serveArgs ...string) *Card {
	t.Helper()
	c, err := p.StartCard(dir, i, serveArgs...)
	if err != nil {
		if c != nil {
			c.Stop()
		}
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Stop()
		if err := p.WaitCard(i, false, 10*time.Second); err != nil {
			t.Errorf("cleanup: reader %d not empty after the test: %v", i, err)
		}
		if t.Failed() {
			t.Logf("card %d APDU log:\n%s", i, c.Log())
		}
	})
	return c
}

// Connect opens the card layer on reader i through card/pcsc (the shared System
// of this pcscd); the connection is closed when the test ends.
func (p *PCSC) Connect(t testing.TB, i int) *card.Card {
	t.Helper()
	sys, err := p.System()
	if err != nil {
		t.Fatal(err)
	}
	tr, err := sys.Connect(ReaderName(i))
	if err != nil {
		t.Fatalf("connect reader %d: %v", i, err)
	}
	t.Cleanup(func() { _ = tr.Close() })
	return card.New(tr)
}

// CardState is the persistent part of a virtual card: its state.json. Its
// String hides the PINs.
type CardState struct {
	AuthPIN   string `json:"auth_pin"`
	SignPIN   string `json:"sign_pin"`
	AuthTries int    `json:"auth_tries"`
	SignTries int    `json:"sign_tries"`
}

// String shows the retry counters only: a PIN never goes to a test log.
func (s CardState) String() string {
	return fmt.Sprintf("{auth tries %d, sign tries %d}", s.AuthTries, s.SignTries)
}

// Tries is the retry counter of the PIN of key k.
func (s CardState) Tries(k card.Key) int {
	if k == card.SignKey {
		return s.SignTries
	}
	return s.AuthTries
}

// ReadCardState reads the state.json of the card in dir; a failure fails the test.
func ReadCardState(t testing.TB, dir string) CardState {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s CardState
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("state.json: %v", err)
	}
	return s
}
