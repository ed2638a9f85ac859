package cli

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/jpki-pkcs11/jpki-pkcs11/card"
)

func parseKey(s string) (card.Key, error) {
	switch s {
	case "auth", "authentication":
		return card.AuthKey, nil
	case "sign", "signature":
		return card.SignKey, nil
	}
	return 0, usagef("unknown key %q: say auth (authentication PIN) or sign (signature password)", s)
}

func (a *app) pin(args []string) error {
	pos, err := parseFlags(a.flags("pin"), args, false)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("pin takes 'status' or 'change auth|sign'")
	}
	switch pos[0] {
	case "status":
		if err := want("pin status", pos[1:], 0, "no arguments"); err != nil {
			return err
		}
		return a.pinStatus()
	case "change":
		if err := want("pin change", pos[1:], 1, "auth or sign"); err != nil {
			return err
		}
		k, err := parseKey(pos[1])
		if err != nil {
			return err
		}
		return a.pinChange(k)
	}
	return usagef("pin takes 'status' or 'change auth|sign', not %q", pos[0])
}

func (a *app) pinStatus() error {
	s, err := a.open()
	if err != nil {
		return err
	}
	defer s.close()
	out := map[string]any{"index": s.index, "reader": s.reader}
	a.prog.start("reading the card")
	defer a.prog.stop()
	for _, k := range []card.Key{card.AuthKey, card.SignKey} {
		n, err := s.c.TriesLeft(k)
		if k == card.SignKey && errors.Is(err, card.ErrFileNotFound) {
			if !a.opt.json {
				a.prog.stop()
				fmt.Fprintf(a.env.Stdout, "%s: none on this card\n", pinName(k))
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("%s tries: %w", pinName(k), err)
		}
		name := map[card.Key]string{card.AuthKey: "auth_tries", card.SignKey: "sign_tries"}[k]
		out[name] = n
		if !a.opt.json {
			a.prog.stop()
			fmt.Fprintf(a.env.Stdout, "%s: %s\n", pinName(k), triesText(n, k))
		}
	}
	if a.opt.json {
		a.prog.stop()
		return writeJSON(a.env.Stdout, out)
	}
	return nil
}

// pinChange asks the current PIN, the new one and (on a terminal) the new one
// again; both are checked by the rules before anything is sent.
func (a *app) pinChange(k card.Key) error {
	s, err := a.open()
	if err != nil {
		return err
	}
	defer s.close()
	if k == card.SignKey {
		if err := needKey(s, k); err != nil {
			return err
		}
	}
	a.prog.start("reading the card")
	tries, err := s.c.TriesLeft(k)
	a.prog.stop()
	if err != nil {
		return fmt.Errorf("asking the card for the %s tries left: %w", pinName(k), err)
	}
	if tries == 0 {
		return blockedError{k}
	}
	prompt := fmt.Sprintf("current %s", pinName(k))
	if tries < k.MaxTries() {
		prompt += fmt.Sprintf(" [%d tries left%s]", tries, lastTry(tries))
	}
	oldPIN, err := a.askPIN("Enter your " + prompt)
	if err != nil {
		return err
	}
	defer card.Wipe(oldPIN)
	if p, err := card.CheckPIN(k, oldPIN); err != nil {
		return pinFormatError{k, err}
	} else {
		card.Wipe(p)
	}
	newPIN, err := a.askPIN(fmt.Sprintf("Enter the new %s (%s)", pinName(k), pinHint(k)))
	if err != nil {
		return err
	}
	defer card.Wipe(newPIN)
	np, err := card.CheckPIN(k, newPIN)
	if err != nil {
		return fmt.Errorf("the new %s is refused, nothing was sent to the card: it must be %s", pinName(k), pinRule(k))
	}
	defer card.Wipe(np)
	op, _ := card.CheckPIN(k, oldPIN)
	same := bytes.Equal(op, np)
	card.Wipe(op)
	if same {
		return fmt.Errorf("the new %s is the same as the current one: nothing was changed", pinName(k))
	}
	if !a.opt.pinStdin {
		again, err := a.askPIN("Enter the new " + pinName(k) + " again")
		if err != nil {
			return err
		}
		ap, err := card.CheckPIN(k, again)
		card.Wipe(again)
		match := err == nil && bytes.Equal(ap, np)
		card.Wipe(ap)
		if !match {
			return fmt.Errorf("the two new %ss differ: nothing was sent to the card", pinName(k))
		}
	}
	a.prog.start("changing the PIN on the card")
	err = s.c.ChangePIN(k, oldPIN, newPIN)
	a.prog.stop()
	if err != nil {
		return pinError(k, err)
	}
	if a.opt.json {
		return writeJSON(a.env.Stdout, map[string]any{"changed": k.String()})
	}
	fmt.Fprintf(a.env.Stdout, "%s changed. Remember it: only your municipal office can reset a blocked PIN.\n", pinName(k))
	return nil
}
