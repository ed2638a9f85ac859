// Command floor is the benchmark's bare APDU floor (issue 8): a minimal PC/SC
// client that logs in to the authentication key of a JPKI card and then signs N
// times with the same APDUs a PKCS#11 module sends for a warm signature, each in
// its own transaction, with no PKCS#11 layer at all. It prints one line per
// signature, "sig NANOSECONDS", and "ok" at the end.
//
//	floor [-reader NAME] [-pin 1234] [-n 20] [-select]
//
// With -select every signature is SELECT key EF + SIGN (2 APDUs, what OpenSC
// sends); without it the key EF stays selected and each signature is one SIGN.
// The PIN comes from -pin or BENCH_PIN; it is a test card's PIN.
package main

import (
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/ebfe/scard"
)

// Command APDUs (shared/JPKI.md §2).
var (
	selectAP  = []byte{0x00, 0xA4, 0x04, 0x0C, 0x0A, 0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01}
	selectPIN = []byte{0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x18}
	selectKey = []byte{0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x17}
	// SHA-256 DigestInfo prefix (RFC 8017 §9.2 note 1).
	sha256Prefix = []byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
}

func run() error {
	reader := flag.String("reader", "Virtual PCD 00 00", "PC/SC reader")
	pin := flag.String("pin", os.Getenv("BENCH_PIN"), "authentication PIN (default BENCH_PIN or 1234)")
	n := flag.Int("n", 20, "signatures")
	sel := flag.Bool("select", false, "SELECT the key EF before every signature")
	flag.Parse()
	if *pin == "" {
		*pin = "1234"
	}
	ctx, err := scard.EstablishContext()
	if err != nil {
		return fmt.Errorf("establish context: %w", err)
	}
	defer ctx.Release()
	c, err := ctx.Connect(*reader, scard.ShareShared, scard.ProtocolT1|scard.ProtocolT0)
	if err != nil {
		return fmt.Errorf("connect %q: %w", *reader, err)
	}
	defer c.Disconnect(scard.LeaveCard)

	verify := append([]byte{0x00, 0x20, 0x00, 0x80, byte(len(*pin))}, *pin...)
	if err := tx(c, selectAP, selectPIN, verify, selectKey); err != nil {
		return fmt.Errorf("login: %w", err)
	}
	h := sha256.Sum256([]byte("the data to sign for the benchmark"))
	di := append(append([]byte(nil), sha256Prefix...), h[:]...)
	sign := append(append([]byte{0x80, 0x2A, 0x00, 0x80, byte(len(di))}, di...), 0x00)
	seq := [][]byte{sign}
	if *sel {
		seq = [][]byte{selectKey, sign}
	}
	for i := 0; i < *n; i++ {
		start := time.Now()
		if err := tx(c, seq...); err != nil {
			return fmt.Errorf("signature %d: %w", i, err)
		}
		fmt.Printf("sig %d\n", time.Since(start).Nanoseconds())
	}
	fmt.Println("ok")
	return nil
}

// tx sends cmds in one transaction and requires 90 00 for each.
func tx(c *scard.Card, cmds ...[]byte) error {
	if err := c.BeginTransaction(); err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	defer c.EndTransaction(scard.LeaveCard)
	for _, cmd := range cmds {
		r, err := c.Transmit(cmd)
		if err != nil {
			return fmt.Errorf("transmit % X: %w", cmd[:4], err)
		}
		if len(r) < 2 {
			return errors.New("short response")
		}
		if sw := r[len(r)-2:]; sw[0] != 0x90 || sw[1] != 0x00 {
			return fmt.Errorf("% X answered %02X %02X", cmd[:4], sw[0], sw[1])
		}
	}
	return nil
}
