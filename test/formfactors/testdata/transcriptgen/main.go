// Command transcriptgen writes the committed jpki diagnose reports of the virtual
// card variations (test/formfactors/testdata/transcripts/NAME.txt), which
// test/formfactors replays through the card layer and the module's
// identification. It runs jpki (internal/cli) in-process against in-memory
// virtual cards; a report a card holder sends goes into the same folder by hand.
//
//	go run ./test/formfactors/testdata/transcriptgen   (from the repository root)
//
// It lives under testdata so `go build ./...` and `go vet ./...` leave it alone.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log"
	"path/filepath"
	"strings"

	"github.com/jpki-pkcs11/jpki-pkcs11/card"
	"github.com/jpki-pkcs11/jpki-pkcs11/internal/cli"
	"github.com/jpki-pkcs11/jpki-pkcs11/vcard"
)

// variation is one virtual card and what is done to it before the diagnosis.
type variation struct {
	name  string
	o     vcard.Options
	setup func(c *vcard.Card) error
}

func main() {
	out := flag.String("out", "test/formfactors/testdata/transcripts", "folder of the reports")
	flag.Parse()
	q := func(names ...string) []string { return names }
	vs := []variation{
		{name: "my-number"},
		{name: "under15", o: vcard.Options{Under15: true}},
		{name: "juki", o: vcard.Options{Juki: true}},
		{name: "no-pss", o: vcard.Options{NoPSS: true}},
		{name: "android", o: vcard.Options{Phone: vcard.PhoneAndroid}},
		{name: "iphone", o: vcard.Options{Phone: vcard.PhoneIOS}},
		{name: "verify-9000", o: vcard.Options{Quirks: q(vcard.QuirkVerify9000)}},
		{name: "blocked-63c0", o: vcard.Options{Quirks: q(vcard.QuirkBlocked63C0)}, setup: blockAuthPIN},
		{name: "len-6985", o: vcard.Options{Quirks: q(vcard.QuirkLen6985)}},
		{name: "len-6985-no-pss", o: vcard.Options{NoPSS: true, Quirks: q(vcard.QuirkLen6985)}},
		{name: "no-short-ef", o: vcard.Options{Quirks: q(vcard.QuirkNoShortEF)}},
		{name: "no-jpki-ap", o: vcard.Options{Quirks: q(vcard.QuirkNoJPKIAP)}},
		{name: "ef0008-404000", o: vcard.Options{EF0008: []byte{0x40, 0x40, 0x00}}},
		{name: "combined", o: vcard.Options{Quirks: q(vcard.QuirkNoShortEF, vcard.QuirkLen6985, vcard.QuirkVerify9000, vcard.QuirkBlocked63C0)}},
	}
	for _, v := range vs {
		c, err := vcard.NewInMemory(v.o)
		if err != nil {
			log.Fatalf("%s: %v", v.name, err)
		}
		if v.setup != nil {
			if err := v.setup(c); err != nil {
				log.Fatalf("%s: %v", v.name, err)
			}
		}
		sys := vcard.NewSystem()
		sys.Insert("Virtual PCD 00 00", c)
		file := filepath.Join(*out, v.name+".txt")
		var so, se bytes.Buffer
		code := cli.Run([]string{"diagnose", "--out", file}, cli.Env{Stdin: strings.NewReader(""), Stdout: &so, Stderr: &se,
			System: func() (card.System, error) { return sys, nil }})
		if code != 0 {
			log.Fatalf("%s: jpki diagnose: exit %d: %s", v.name, code, se.String())
		}
		fmt.Println("wrote", file)
	}
}

// blockAuthPIN spends the authentication PIN's three tries.
func blockAuthPIN(c *vcard.Card) error {
	cc := card.New(vcard.NewTransport(c))
	for range card.AuthKey.MaxTries() {
		if err := cc.Verify(card.AuthKey, []byte("0000")); err == nil {
			return fmt.Errorf("0000 is the PIN")
		}
	}
	if n, err := cc.TriesLeft(card.AuthKey); err != nil || n != 0 {
		return fmt.Errorf("not blocked: %d %v", n, err)
	}
	return nil
}
