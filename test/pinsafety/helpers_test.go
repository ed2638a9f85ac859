package pinsafety

import (
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jpki-pkcs11/jpki-pkcs11/card"
	"github.com/jpki-pkcs11/jpki-pkcs11/test/harness"
)

// Distinctive PINs, so a leak is found by a plain search of a log.
const (
	authPIN      = "7391"
	signPIN      = "QWERTY7391"
	wrongAuthPIN = "7390"
	wrongSignPIN = "QWERTY7390"
)

// The APDUs that spend a PIN try (VERIFY with data) or change a PIN (CHANGE
// REFERENCE DATA with data), as pcscd logs them: "00 20 00 80 04 37 ..." (P2 80
// after a SELECT, or 80|SFI).
const (
	verifyWithData = `^00 20 00 [0-9A-F]{2} [0-9A-F]{2}`
	changeWithData = `^00 24 01 [0-9A-F]{2} [0-9A-F]{2}`
	anyPINData     = `^00 2[04] [0-9A-F]{2} [0-9A-F]{2} [0-9A-F]{2}`
	triesQuery     = `^00 20 00 [0-9A-F]{2}$`
)

// vcardVerifyWithData is a VERIFY or CHANGE REFERENCE DATA with data in the
// virtual card's log, which masks the data as "**".
var vcardVerifyWithData = regexp.MustCompile(`00 2[04] [0-9A-F]{2} [0-9A-F]{2} [0-9A-F]{2} \*\*`)

// startCard makes a card with the distinctive PINs and serves it in reader i.
func startCard(t *testing.T, i int) (*harness.Card, string) {
	t.Helper()
	return pc.NewCard(t, i, []string{"--auth-pin", authPIN, "--sign-pin", signPIN})
}

// freshTries asks the card for the tries left of k on a new connection (a Card
// whose model of the card's state nobody else disturbed), with a bound on a
// card that pcscd is still powering up.
func freshTries(t *testing.T, i int, k card.Key) int {
	t.Helper()
	sys, err := pc.System()
	if err != nil {
		t.Fatal(err)
	}
	var last error
	for try := 0; try < 20; try++ {
		tr, err := sys.Connect(harness.ReaderName(i))
		if err == nil {
			n, err := card.New(tr).TriesLeft(k)
			_ = tr.Close()
			if err == nil {
				return n
			}
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("tries left of the %v PIN: %v", k, last)
	return 0
}

// settle waits until pcscd's log shows a tries-left query sent after mark (the
// caller just sent one), so everything sent before it is in the log too: a
// check of "no VERIFY with data" never passes on a log not yet written.
func settle(t *testing.T, mark int64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, err := pc.CountAPDUs(mark, triesQuery)
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pcscd's APDU log shows no tries-left query after the mark (is pcscd running with --apdu?)")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// countAPDUs counts pcscd-logged commands since mark matching pattern.
func countAPDUs(t *testing.T, mark int64, pattern string) int {
	t.Helper()
	n, err := pc.CountAPDUs(mark, pattern)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// pinForms are the ways a PIN could show up in a log: as text (upper or lower
// case), as spaced or packed hex (how APDUs are usually logged), quoted in Go
// syntax as a byte list.
func pinForms(pin string) []*regexp.Regexp {
	b := []byte(pin)
	spaced := strings.TrimSpace(fmt.Sprintf("% X", b))
	dec := strings.Trim(fmt.Sprint(b), "[]")
	return []*regexp.Regexp{
		// Text not glued to other digits (a timestamp's microseconds may hold 7391).
		regexp.MustCompile(`(?i)(^|[^0-9])` + regexp.QuoteMeta(pin) + `([^0-9]|$)`),
		regexp.MustCompile(`(?i)` + regexp.QuoteMeta(spaced)),
		regexp.MustCompile(`(?i)` + hex.EncodeToString(b)),
		regexp.MustCompile(regexp.QuoteMeta(dec)),
	}
}

// noPIN fails the test when log (named what) holds any of the PINs in any form.
func noPIN(t *testing.T, what, log string, pins ...string) {
	t.Helper()
	if strings.TrimSpace(log) == "" {
		t.Fatalf("%s is empty: nothing to check (is logging on?)", what)
	}
	for _, p := range pins {
		for _, re := range pinForms(p) {
			if loc := re.FindStringIndex(log); loc != nil {
				from, to := max(0, loc[0]-80), min(len(log), loc[1]+80)
				t.Errorf("%s holds the PIN %q (pattern %s): ...%s...", what, p, re, log[from:to])
			}
		}
	}
}

// malformed is the table of PINs that break the format rule of each key, by
// length (0 to 20) and by content: letters (lower case) for the authentication
// PIN, non-ASCII (UTF-8 multibyte, full-width digits), NUL bytes, spaces, tabs,
// newlines and punctuation for both.
func malformed(k card.Key) []string {
	var out []string
	if k == card.AuthKey {
		digits := "73917391739173917391"
		for n := 0; n <= 20; n++ {
			if n != 4 {
				out = append(out, digits[:n])
			}
		}
		return append(out,
			"abcd", "739a", "ABCD", "73e1",
			"７３９１", "٧٣٩١", "73é1", "739\xff", "7³91",
			"739\x00", "\x00\x00\x00\x00", "7391\x00", "\x007391",
			" 739", "739 ", "73 1", "    ", " 7391", "7391 ",
			"739\t", "\t739", "7391\t", "739\n", "7391\n", "7391\r\n", "\n",
			"-739", "+739", "7.39", "0x73")
	}
	chars := "QWERTY7391QWERTY7391"
	for n := 0; n <= 20; n++ {
		if n < 6 || n > 16 {
			out = append(out, chars[:n])
		}
	}
	return append(out,
		"ＱＷＥＲＴＹ７３９１", "QWERTY７３９１", "ＱＷＥＲＴＹ", "QWÉRTY7391", "QWERTYÄ391", "QWERTY\xff391", "ｑｗｅｒｔｙ",
		"QWERTY7391\x00", "QWERTY\x007391", "\x00QWERTY7391", "\x00\x00\x00\x00\x00\x00",
		"QWERTY 7391", " QWERTY7391", "QWERTY7391 ", "      ",
		"QWERTY\t7391", "QWERTY7391\t", "QWERTY7391\n", "QWERTY7391\r\n",
		"QWERTY-7391", "qwerty_7391", "QWERTY!391", "QWERTY.7391")
}

// oneVerify checks that exactly one VERIFY with data reached the card since mark
// (for what: "one wrong PIN", ...), once pcscd's log is complete (settle).
func oneVerify(t *testing.T, mark int64, what string) {
	t.Helper()
	settle(t, mark)
	if n := countAPDUs(t, mark, verifyWithData); n != 1 {
		t.Errorf("pcscd logged %d VERIFY with data for %s, want exactly 1", n, what)
	}
}

// wantStateTries checks the retry counter of k in the card's state.json.
func wantStateTries(t *testing.T, dir string, k card.Key, want int) {
	t.Helper()
	if s := harness.ReadCardState(t, dir); s.Tries(k) != want {
		t.Errorf("state.json: %d tries of the %v PIN, want %d", s.Tries(k), k, want)
	}
}
