package main

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"os"

	"github.com/miekg/pkcs11"
)

// reset logs in and signs, says "RESET" and waits for a line on stdin (another
// application resets the card meanwhile), then signs again in the same session:
// the login is gone, so the module must answer CKR_USER_NOT_LOGGED_IN (it never
// re-sends a PIN behind the user's back). A new login then signs again.
func reset(module, token, idHex, pin string) error {
	id, err := hex.DecodeString(idHex)
	if err != nil || token == "" || pin == "" {
		return errors.New("reset needs -token, -id (hex) and GOP11_PIN")
	}
	p, unload, err := load(module)
	if err != nil {
		return err
	}
	defer unload()
	sh, err := signOnce(p, token, id, pin)
	if err != nil {
		return fmt.Errorf("before the reset: %w", err)
	}
	emit(Step{Step: "SIGNED"})
	emit(Step{Step: "RESET"})
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		return err
	}
	err = signWith(p, sh, id)
	if !errors.Is(err, pkcs11.Error(pkcs11.CKR_USER_NOT_LOGGED_IN)) {
		return fmt.Errorf("signing after the card was reset: %v, want CKR_USER_NOT_LOGGED_IN", err)
	}
	emit(Step{Step: "NOT_LOGGED_IN", Error: err.Error()})
	// The session still stands: log in again (ALREADY_LOGGED_IN would mean the
	// module kept a login the card lost) and sign.
	if err := p.Login(sh, pkcs11.CKU_USER, pin); err != nil {
		return fmt.Errorf("login after the reset: %w", err)
	}
	if err := signWith(p, sh, id); err != nil {
		return fmt.Errorf("signing after a new login: %w", err)
	}
	emit(Step{Step: "SIGNED_AGAIN"})
	return nil
}
