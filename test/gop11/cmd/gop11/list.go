package main

import (
	"errors"
	"fmt"

	"github.com/miekg/pkcs11"

	"github.com/jpki-pkcs11/jpki-pkcs11/test/gop11/report"
)

// listed are the attributes read one by one (so each gets its own error).
var listed = map[uint]string{
	pkcs11.CKA_CLASS: "CLASS", pkcs11.CKA_LABEL: "LABEL", pkcs11.CKA_ID: "ID", pkcs11.CKA_TOKEN: "TOKEN",
	pkcs11.CKA_PRIVATE: "PRIVATE", pkcs11.CKA_KEY_TYPE: "KEY_TYPE", pkcs11.CKA_MODULUS: "MODULUS",
	pkcs11.CKA_MODULUS_BITS: "MODULUS_BITS", pkcs11.CKA_PUBLIC_EXPONENT: "PUBLIC_EXPONENT", pkcs11.CKA_SIGN: "SIGN",
	pkcs11.CKA_SENSITIVE: "SENSITIVE", pkcs11.CKA_EXTRACTABLE: "EXTRACTABLE", pkcs11.CKA_VALUE: "VALUE",
	pkcs11.CKA_SUBJECT: "SUBJECT", pkcs11.CKA_ISSUER: "ISSUER", pkcs11.CKA_SERIAL_NUMBER: "SERIAL_NUMBER",
	pkcs11.CKA_CERTIFICATE_TYPE: "CERTIFICATE_TYPE", pkcs11.CKA_CERTIFICATE_CATEGORY: "CERTIFICATE_CATEGORY",
	pkcs11.CKA_PRIVATE_EXPONENT: "PRIVATE_EXPONENT", pkcs11.CKA_PRIME_1: "PRIME_1",
	pkcs11.CKA_ALWAYS_AUTHENTICATE: "ALWAYS_AUTHENTICATE", pkcs11.CKA_START_DATE: "START_DATE", pkcs11.CKA_END_DATE: "END_DATE",
}

// list reports every present token with its public objects (no login).
func list(module string) error {
	p, unload, err := load(module)
	if err != nil {
		return err
	}
	defer unload()
	slots, err := p.GetSlotList(true)
	if err != nil {
		return fmt.Errorf("C_GetSlotList: %w", err)
	}
	var tokens []report.Token
	for _, s := range slots {
		tok, err := listToken(p, s)
		if err != nil {
			return fmt.Errorf("slot %d: %w", s, err)
		}
		tokens = append(tokens, tok)
	}
	emit(tokens)
	return nil
}

func listToken(p *pkcs11.Ctx, slot uint) (report.Token, error) {
	ti, err := p.GetTokenInfo(slot)
	if err != nil {
		return report.Token{}, fmt.Errorf("C_GetTokenInfo: %w", err)
	}
	si, err := p.GetSlotInfo(slot)
	if err != nil {
		return report.Token{}, fmt.Errorf("C_GetSlotInfo: %w", err)
	}
	tok := report.Token{Slot: slot, Label: ti.Label, Serial: ti.SerialNumber, Model: ti.Model, Flags: ti.Flags,
		MinPin: ti.MinPinLen, MaxPin: ti.MaxPinLen, SlotFlags: si.Flags}
	mechs, err := p.GetMechanismList(slot)
	if err != nil {
		return report.Token{}, fmt.Errorf("C_GetMechanismList: %w", err)
	}
	for _, m := range mechs {
		tok.Mechs = append(tok.Mechs, m.Mechanism)
	}
	sh, err := p.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION)
	if err != nil {
		return report.Token{}, fmt.Errorf("C_OpenSession: %w", err)
	}
	defer p.CloseSession(sh)
	if err := p.FindObjectsInit(sh, nil); err != nil {
		return report.Token{}, fmt.Errorf("C_FindObjectsInit: %w", err)
	}
	var handles []pkcs11.ObjectHandle
	for {
		hs, _, err := p.FindObjects(sh, 10)
		if err != nil {
			return report.Token{}, fmt.Errorf("C_FindObjects: %w", err)
		}
		if len(hs) == 0 {
			break
		}
		handles = append(handles, hs...)
	}
	if err := p.FindObjectsFinal(sh); err != nil {
		return report.Token{}, fmt.Errorf("C_FindObjectsFinal: %w", err)
	}
	for _, h := range handles {
		o := report.Object{Attrs: map[string][]byte{}, Errors: map[string]string{}}
		for typ, name := range listed {
			attrs, err := p.GetAttributeValue(sh, h, []*pkcs11.Attribute{pkcs11.NewAttribute(typ, nil)})
			var e pkcs11.Error
			switch {
			case err == nil:
				o.Attrs[name] = attrs[0].Value
			case errors.As(err, &e):
				o.Errors[name] = pkcs11.Error(e).Error()
			default:
				return report.Token{}, fmt.Errorf("C_GetAttributeValue(%s): %w", name, err)
			}
		}
		tok.Objects = append(tok.Objects, o)
	}
	return tok, nil
}
