package cli

import (
	"errors"
	"fmt"
	"io"

	"github.com/jpki-pkcs11/jpki-pkcs11/card"
)

// maxPINLine bounds a PIN line read from stdin.
const maxPINLine = 64

// askPIN asks for one PIN: from stdin with --pin-stdin (one line), else on the
// terminal without echo. The caller wipes the result.
func (a *app) askPIN(prompt string) ([]byte, error) {
	a.prog.stop()
	if a.opt.pinStdin {
		return readLine(a.env.Stdin)
	}
	if !a.env.StdinTerminal || a.env.ReadPassword == nil {
		return nil, errors.New("no terminal to ask for the PIN on: run jpki in a terminal, or give the PIN on stdin with --pin-stdin (one line per PIN asked)")
	}
	fmt.Fprint(a.env.Stderr, prompt+": ")
	pin, err := a.env.ReadPassword()
	fmt.Fprintln(a.env.Stderr)
	if err != nil {
		return nil, fmt.Errorf("reading the PIN from the terminal: %w", err)
	}
	return pin, nil
}

// readLine reads one line byte by byte (so nothing beyond it is consumed and no
// copy of the PIN stays in a buffer), without the line end.
func readLine(r io.Reader) ([]byte, error) {
	if r == nil {
		return nil, errors.New("--pin-stdin: no stdin")
	}
	buf := make([]byte, 0, maxPINLine)
	var b [1]byte
	for {
		n, err := r.Read(b[:])
		if n == 1 {
			if b[0] == '\n' {
				break
			}
			if len(buf) == maxPINLine {
				card.Wipe(buf)
				return nil, fmt.Errorf("--pin-stdin: line longer than %d characters", maxPINLine)
			}
			buf = append(buf, b[0])
			continue
		}
		if err == io.EOF {
			if len(buf) == 0 {
				return nil, errors.New("--pin-stdin: no more lines on stdin (give one line per PIN asked)")
			}
			break
		}
		if err != nil {
			card.Wipe(buf)
			return nil, fmt.Errorf("--pin-stdin: %w", err)
		}
	}
	b[0] = 0
	if len(buf) > 0 && buf[len(buf)-1] == '\r' {
		buf[len(buf)-1] = 0
		buf = buf[:len(buf)-1]
	}
	return buf, nil
}

// pinName names the PIN of k the way the card holder knows it.
func pinName(k card.Key) string {
	if k == card.SignKey {
		return "signature password"
	}
	return "authentication PIN"
}

// pinRule states the format rule of k's PIN.
func pinRule(k card.Key) string {
	if k == card.SignKey {
		return "6 to 16 characters, letters A-Z and digits 0-9 (lower case is taken as upper case)"
	}
	return "exactly 4 digits"
}

// pinHint is the short form of pinRule, for prompts.
func pinHint(k card.Key) string {
	if k == card.SignKey {
		return "6-16 letters and digits"
	}
	return "4 digits"
}

// login verifies the PIN of k on c: it first asks the card how many tries are
// left (that costs no try) and refuses a blocked PIN without asking; a malformed
// PIN is refused before anything is sent; nothing is ever retried.
func (a *app) login(c card.Generation, k card.Key) error {
	a.prog.start("reading the card")
	tries, err := c.TriesLeft(k)
	a.prog.stop()
	if err != nil {
		return fmt.Errorf("asking the card for the %s tries left: %w", pinName(k), err)
	}
	if tries == 0 {
		return blockedError{k}
	}
	prompt := fmt.Sprintf("%s (%s)", pinName(k), pinHint(k))
	if tries < k.MaxTries() || tries == 1 {
		prompt = fmt.Sprintf("%s [%d tries left%s]", prompt, tries, lastTry(tries))
	}
	pin, err := a.askPIN("Enter your " + prompt)
	if err != nil {
		return err
	}
	defer card.Wipe(pin)
	if p, err := card.CheckPIN(k, pin); err != nil {
		return pinFormatError{k, err}
	} else {
		card.Wipe(p)
	}
	a.prog.start("checking the PIN with the card")
	err = c.Verify(k, pin)
	a.prog.stop()
	if err != nil {
		return pinError(k, err)
	}
	return nil
}

func lastTry(n int) string {
	if n == 1 {
		return ": a wrong PIN now blocks it"
	}
	return ""
}
