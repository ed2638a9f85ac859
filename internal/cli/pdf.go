package cli

import (
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/jpki-pkcs11/jpki-pkcs11/card"
	"github.com/jpki-pkcs11/jpki-pkcs11/internal/cli/pades"
)

func (a *app) pdf(args []string) error {
	fs := a.flags("pdf")
	reason := fs.String("reason", "", "why you sign (shown by PDF readers)")
	location := fs.String("location", "", "where you sign")
	contact := fs.String("contact", "", "how to reach you")
	pos, err := parseFlags(fs, args, false)
	if err != nil {
		return err
	}
	if len(pos) == 0 || pos[0] != "sign" {
		return usagef("pdf takes: sign IN.pdf OUT.pdf [--reason TEXT] [--location TEXT]")
	}
	if err := want("pdf sign", pos[1:], 2, "IN.pdf OUT.pdf"); err != nil {
		return err
	}
	in, out := pos[1], pos[2]
	if same(in, out) {
		return errSameFile
	}
	doc, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	if err := pades.Check(doc); err != nil { // before any PIN is asked
		return fmt.Errorf("%s: %w", in, err)
	}
	s, err := a.open()
	if err != nil {
		return err
	}
	defer s.close()
	key, err := a.unlockKey(s, card.SignKey)
	if err != nil {
		return err
	}
	chain := []*x509.Certificate{key.cert}
	if key.ca != nil {
		chain = append(chain, key.ca)
	}
	a.prog.start("signing the PDF on the card")
	signed, err := pades.Sign(doc, key.signer, chain, pades.Info{
		Reason: *reason, Location: *location, ContactInfo: *contact, Time: a.env.Now(),
	})
	a.prog.stop()
	if err != nil {
		return fmt.Errorf("signing %s: %w", in, err)
	}
	tmp := out + ".partial"
	if err := os.WriteFile(tmp, signed, 0o644); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, out); err != nil {
		os.Remove(tmp)
		return err
	}
	if a.opt.json {
		return writeJSON(a.env.Stdout, map[string]any{"signed": out, "input": in, "signer": key.cert.Subject.String()})
	}
	fmt.Fprintf(a.env.Stdout, "signed PDF written to %s\nsigner: %s\n", out, key.cert.Subject)
	return nil
}

var errSameFile = errors.New("the output would overwrite the input: give another OUT.pdf")

// same reports whether two paths name the same file (or the same path).
func same(a, b string) bool {
	if filepath.Clean(a) == filepath.Clean(b) {
		return true
	}
	ai, err1 := os.Stat(a)
	bi, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(ai, bi)
}
