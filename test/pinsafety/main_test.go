// Package pinsafety proves that a PIN try is never wasted and a PIN never logged:
// malformed PINs never reach the card, a wrong well-formed PIN costs exactly one
// try, nothing retries, and no log holds a PIN. It runs against virtual My Number
// Cards served through a private pcscd (test/harness), first through the card
// layer (card/pcsc + card.Card), then through the built module driven by
// pkcs11-tool (the module is never loaded into this Go process).
//
// The witness of "what reached the card" is the private pcscd's APDU log
// (pcscd --debug --apdu). That log holds raw APDUs, PIN bytes included, by
// design: it is the test's eye on the wire and is excluded from the "no PIN in any
// log" checks. Production pcscd does not run with --apdu. Every other log is
// checked: the virtual card's --log (PIN bytes masked) and the module's debug log
// (JPKI_PKCS11_DEBUG, at its only, most verbose level).
package pinsafety

import (
	"os"
	"testing"

	"github.com/jpki-pkcs11/jpki-pkcs11/test/harness"
)

// pc is the private pcscd of this test process.
var pc *harness.PCSC

func TestMain(m *testing.M) {
	os.Exit(harness.Main(m, "pinsafety", func(p *harness.PCSC) error { pc = p; return nil }))
}
