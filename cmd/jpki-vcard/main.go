// Command jpki-vcard makes virtual My Number Cards and serves them to a PC/SC
// service through vsmartcard's vpcd reader driver.
package main

import (
	"crypto/x509"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/jpki-pkcs11/jpki-pkcs11/internal/version"
	"github.com/jpki-pkcs11/jpki-pkcs11/vcard"
)

const usageHead = `jpki-vcard: a virtual My Number Card (JPKI application) for tests and demos.

Usage:
  jpki-vcard new DIR [--auth-pin 1234] [--sign-pin ABC123] [--under15] [--juki] [--no-pss]
                     [--name NAME] [--name-alt NAME] [--birth YYYY-MM-DD] [--sex 1|2|3]
                     [--address ADDR] [--address-alt ADDR] [--issued YYYY-MM-DD] [--latency 20ms]
                     [--phone android|ios] [--quirk NAME]... [--ef0008 HEX]
                     [--generation current|next]
      Make a new card in DIR: RSA-2048 keys, test CA and holder certificates, PINs.
      --generation next: the next card generation as announced (ECDSA P-384 keys,
        SHA-384 certificates valid 10 years, the same PINs), with no JPKI AP: it
        answers the commands card/nextgen assumes until the real ones are published
        (not with --juki, --no-pss, --phone, --quirk or --ef0008).
      --phone android: an Android smartphone certificate (token label JPKIAPGPSETOKEN; its
        authentication certificate EF 000A is readable only after the authentication PIN).
      --phone ios: the iPhone's label (JPKIAPIOSTOKEN) only, to see it reported as not supported.
      --ef0008 HEX: the bytes of EF 0008 (default 8F8F00, 008F00 without a signature certificate).
      --quirk NAME (may be repeated): a variation seen on real cards:
`

const usageTail = `  jpki-vcard serve DIR [--vpcd HOST:PORT] [--log FILE] [--latency 20ms] [--hang-after N]
      Serve the card in DIR to vpcd (default 127.0.0.1:35963): the card is "inserted"
      while connected. Reconnects every 200 ms when vpcd is not there. Every command
      and status word is logged to --log (default stderr), PIN bytes masked.
      --hang-after N answers the first N APDUs (counted from the start of serve),
      then takes the next one and never answers it nor anything later, keeping the
      connection to vpcd open: a card that stops answering mid-command.
      Signals: SIGUSR1 pulls the card out (the connection to vpcd is closed and stays
      closed), SIGUSR2 inserts it again, SIGTERM or SIGINT stop the server.
      PIN tries and PIN changes are saved in DIR/state.json at once: a blocked card
      stays blocked across restarts.
  jpki-vcard info DIR
      Print the card's kind, variations, PIN tries left and certificate validity.
  jpki-vcard --version
      Print the version.
`

// usage is the help text, the quirks listed from vcard.QuirkList.
var usage = func() string {
	var b strings.Builder
	b.WriteString(usageHead)
	for _, q := range vcard.QuirkList {
		fmt.Fprintf(&b, "        %-13s %s\n", q.Name, q.Doc)
	}
	b.WriteString(usageTail)
	return b.String()
}()

func main() {
	err := run(os.Args[1:], os.Stdout, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "jpki-vcard:", err)
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	switch args[0] {
	case "-h", "--help", "-help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	case "--version", "-version", "version":
		fmt.Fprintln(stdout, "jpki-vcard", version.Version)
		return nil
	case "new":
		return cmdNew(args[1:], stdout)
	case "serve":
		return cmdServe(args[1:], stderr)
	case "info":
		return cmdInfo(args[1:], stdout)
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

// parseWithDir parses flags placed before or after the one positional DIR.
func parseWithDir(fs *flag.FlagSet, args []string) (string, error) {
	fs.Usage = func() { fmt.Fprint(os.Stdout, usage) }
	if err := fs.Parse(args); err != nil {
		return "", err
	}
	if fs.NArg() == 0 {
		return "", fmt.Errorf("%s: missing DIR", fs.Name())
	}
	dir := fs.Arg(0)
	if err := fs.Parse(fs.Args()[1:]); err != nil {
		return "", err
	}
	if fs.NArg() != 0 {
		return "", fmt.Errorf("%s: unexpected arguments %q", fs.Name(), fs.Args())
	}
	return dir, nil
}

func cmdNew(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("new", flag.ContinueOnError)
	var o vcard.Options
	var birth, issued string
	fs.StringVar(&o.AuthPIN, "auth-pin", vcard.DefaultAuthPIN, "authentication PIN (4 digits)")
	fs.StringVar(&o.SignPIN, "sign-pin", vcard.DefaultSignPIN, "signature password (6-16 of A-Z 0-9)")
	fs.BoolVar(&o.Under15, "under15", false, "no signature key or certificate")
	fs.BoolVar(&o.Juki, "juki", false, "old Juki card: certificates issued 2014, expired")
	fs.BoolVar(&o.NoPSS, "no-pss", false, "a card generation without the PSS signature schemes")
	fs.StringVar(&o.Name, "name", vcard.DefaultName, "holder's name")
	fs.StringVar(&o.NameAlt, "name-alt", "", "alternative form of the name")
	fs.StringVar(&o.Sex, "sex", "1", "1 male, 2 female, 3 not known")
	fs.StringVar(&o.Address, "address", vcard.DefaultAddress, "holder's address")
	fs.StringVar(&o.AddressAlt, "address-alt", "", "alternative form of the address")
	fs.StringVar(&birth, "birth", "1990-01-01", "birth date YYYY-MM-DD")
	fs.StringVar(&issued, "issued", "", "issue date YYYY-MM-DD (default: 30 days ago; Juki 2014-04-01)")
	fs.DurationVar(&o.Latency, "latency", 0, "delay added to every APDU")
	fs.StringVar(&o.Generation, "generation", vcard.GenerationCurrent, "card generation: current (RSA-2048) or next (ECDSA P-384, assumed commands)")
	fs.StringVar(&o.Phone, "phone", "", "android or ios: a smartphone certificate")
	fs.Func("quirk", "a card variation (may be repeated)", func(v string) error {
		o.Quirks = append(o.Quirks, v)
		return nil
	})
	fs.Func("ef0008", "the bytes of EF 0008 in hex", func(v string) error {
		b, err := hex.DecodeString(strings.ReplaceAll(v, " ", ""))
		if err != nil || len(b) == 0 {
			return fmt.Errorf("want hex bytes, e.g. 8F8F00")
		}
		o.EF0008 = b
		return nil
	})
	dir, err := parseWithDir(fs, args)
	if err != nil {
		return err
	}
	if o.Birth, err = time.Parse(time.DateOnly, birth); err != nil {
		return fmt.Errorf("--birth: %w", err)
	}
	if issued != "" {
		if o.Issued, err = time.Parse(time.DateOnly, issued); err != nil {
			return fmt.Errorf("--issued: %w", err)
		}
	}
	if err := vcard.Create(dir, o); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "virtual card created in %s\n", dir)
	return nil
}

func cmdInfo(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("info", flag.ContinueOnError)
	dir, err := parseWithDir(fs, args)
	if err != nil {
		return err
	}
	c, err := vcard.Open(dir)
	if err != nil {
		return err
	}
	st := c.Status()
	kind := "My Number Card"
	switch {
	case st.Options.Juki:
		kind = "Juki card"
	case st.Options.Phone == vcard.PhoneAndroid:
		kind = "Android smartphone certificate (JPKIAPGPSETOKEN; the authentication certificate only after the authentication PIN)"
	case st.Options.Phone == vcard.PhoneIOS:
		kind = "iPhone smartphone certificate label (JPKIAPIOSTOKEN; not supported by the module)"
	case st.Options.Under15:
		kind = "My Number Card without a signature certificate (under 15)"
	}
	if st.Options.Under15 && st.Options.Phone != "" {
		kind += ", without a signature certificate"
	}
	if st.Options.NoPSS {
		kind += ", no PSS"
	}
	if st.Options.Generation == vcard.GenerationNext {
		kind += ", next generation (ECDSA P-384, assumed commands)"
	}
	fmt.Fprintf(stdout, "kind:            %s\n", kind)
	for _, q := range st.Options.Quirks {
		fmt.Fprintf(stdout, "quirk:           %s\n", q)
	}
	if st.Options.EF0008 != nil {
		fmt.Fprintf(stdout, "EF 0008:         % X\n", st.Options.EF0008)
	}
	fmt.Fprintf(stdout, "ATR:             % X\n", c.ATR())
	fmt.Fprintf(stdout, "auth PIN tries:  %d of 3%s\n", st.AuthTries, blocked(st.AuthTries))
	if !st.Options.Under15 {
		fmt.Fprintf(stdout, "sign PIN tries:  %d of 5%s\n", st.SignTries, blocked(st.SignTries))
	}
	for _, cc := range []struct {
		name string
		der  []byte
	}{{"auth certificate", st.AuthCert}, {"sign certificate", st.SignCert}} {
		if cc.der == nil {
			continue
		}
		cert, err := x509.ParseCertificate(cc.der)
		if err != nil {
			return fmt.Errorf("%s: %w", cc.name, err)
		}
		state := "valid"
		if now := time.Now(); now.After(cert.NotAfter) {
			state = "EXPIRED"
		} else if now.Before(cert.NotBefore) {
			state = "not yet valid"
		}
		fmt.Fprintf(stdout, "%-16s %s, %s .. %s (%s)\n", cc.name+":", cert.Subject,
			cert.NotBefore.Format(time.DateOnly), cert.NotAfter.Format(time.DateOnly), state)
	}
	if st.Options.Latency > 0 {
		fmt.Fprintf(stdout, "latency:         %v per APDU\n", st.Options.Latency)
	}
	return nil
}

func blocked(n int) string {
	if n == 0 {
		return " (BLOCKED)"
	}
	return ""
}
