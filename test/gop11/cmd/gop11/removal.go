package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/miekg/pkcs11"
)

// Step is one line of `removal` progress.
type Step struct {
	Step  string `json:"step"`
	Error string `json:"error,omitempty"`
}

// removal signs on the token, has the card pulled (PULL, then a line on stdin),
// checks that the old session fails and the token is gone, has the card inserted
// (INSERT, then a line), waits for the token to come back and signs again, all
// within one module instance (the p11-kit server's).
func removal(module, token, idHex, pin string) error {
	id, err := hex.DecodeString(idHex)
	if err != nil || token == "" || pin == "" {
		return errors.New("removal needs -token, -id (hex) and GOP11_PIN")
	}
	p, unload, err := load(module)
	if err != nil {
		return err
	}
	defer unload()
	in := bufio.NewReader(os.Stdin)

	sh, err := signOnce(p, token, id, pin)
	if err != nil {
		return fmt.Errorf("before removal: %w", err)
	}
	emit(Step{Step: "SIGNED"})
	emit(Step{Step: "PULL"})
	if _, err := in.ReadString('\n'); err != nil {
		return err
	}
	// The old session is gone: any use of it fails.
	_, err = p.GetSessionInfo(sh)
	if err == nil {
		return errors.New("the session survived the card's removal")
	}
	emit(Step{Step: "SESSION_GONE", Error: err.Error()})
	if slot, err := findToken(p, token); err == nil {
		return fmt.Errorf("token %q still present in slot %d after removal", token, slot)
	}
	emit(Step{Step: "TOKEN_GONE"})
	emit(Step{Step: "INSERT"})
	if _, err := in.ReadString('\n'); err != nil {
		return err
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		if _, err := findToken(p, token); err == nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("token %q did not come back", token)
		}
		time.Sleep(200 * time.Millisecond)
	}
	emit(Step{Step: "TOKEN_BACK"})
	if _, err := signOnce(p, token, id, pin); err != nil {
		return fmt.Errorf("after re-insertion: %w", err)
	}
	emit(Step{Step: "SIGNED_AGAIN"})
	return nil
}

// findToken returns the slot of the present token with the label.
func findToken(p *pkcs11.Ctx, label string) (uint, error) {
	slots, err := p.GetSlotList(true)
	if err != nil {
		return 0, err
	}
	for _, s := range slots {
		if ti, err := p.GetTokenInfo(s); err == nil && ti.Label == label {
			return s, nil
		}
	}
	return 0, fmt.Errorf("no token %q", label)
}

// signOnce opens a session on the token, logs in, signs with CKM_SHA256_RSA_PKCS
// and the private key with CKA_ID id, and returns the (still open) session.
func signOnce(p *pkcs11.Ctx, label string, id []byte, pin string) (pkcs11.SessionHandle, error) {
	slot, err := findToken(p, label)
	if err != nil {
		return 0, err
	}
	sh, err := p.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION)
	if err != nil {
		return 0, fmt.Errorf("C_OpenSession: %w", err)
	}
	if err := p.Login(sh, pkcs11.CKU_USER, pin); err != nil {
		return 0, fmt.Errorf("C_Login: %w", err)
	}
	if err := signWith(p, sh, id); err != nil {
		return 0, err
	}
	return sh, nil
}

// signWith signs with CKM_SHA256_RSA_PKCS and the private key with CKA_ID id in
// the session.
func signWith(p *pkcs11.Ctx, sh pkcs11.SessionHandle, id []byte) error {
	tmpl := []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY), pkcs11.NewAttribute(pkcs11.CKA_ID, id)}
	if err := p.FindObjectsInit(sh, tmpl); err != nil {
		return fmt.Errorf("C_FindObjectsInit: %w", err)
	}
	hs, _, err := p.FindObjects(sh, 2)
	if ferr := p.FindObjectsFinal(sh); err == nil {
		err = ferr
	}
	if err != nil || len(hs) != 1 {
		return fmt.Errorf("private key %x: %w (%d found)", id, err, len(hs))
	}
	if err := p.SignInit(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_SHA256_RSA_PKCS, nil)}, hs[0]); err != nil {
		return fmt.Errorf("C_SignInit: %w", err)
	}
	data := sha256.Sum256([]byte("jpki-pkcs11 test"))
	sig, err := p.Sign(sh, data[:])
	if err != nil {
		return fmt.Errorf("C_Sign: %w", err)
	}
	if len(sig) != 256 {
		return fmt.Errorf("signature of %d bytes, want 256", len(sig))
	}
	return nil
}
