package vcard

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"time"

	"github.com/jpki-pkcs11/jpki-pkcs11/card"
)

// Status words the emulation answers.
const (
	swOK            uint16 = 0x9000
	swMemoryFailure uint16 = 0x6581
	swWrongLength   uint16 = 0x6700
	swIncompatible  uint16 = 0x6981 // command incompatible with file structure
	swSecurity      uint16 = 0x6982
	swConditions    uint16 = 0x6985 // conditions of use not satisfied
	swBlocked       uint16 = 0x6984
	swNoCurrentEF   uint16 = 0x6986
	swWrongData     uint16 = 0x6A80
	swNotFound      uint16 = 0x6A82
	swWrongP1P2     uint16 = 0x6A86
	swOffset        uint16 = 0x6B00
	swINS           uint16 = 0x6D00
	swCLA           uint16 = 0x6E00
)

// otherAIDs are the other applications of a real card (JPKI.md §1): they can be
// selected but hold nothing the emulation serves.
var otherAIDs = [][]byte{
	{0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04, 0x08},
	{0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04, 0x02},
	{0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04, 0x01},
	{0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x01, 0x00},
}

// apdu is a parsed short command APDU.
type apdu struct {
	cla, ins, p1, p2 byte
	data             []byte
	le               int  // expected length, 1..256
	hasLe            bool // an Le field was present
}

// parse splits a short APDU (ISO 7816-4 cases 1 to 4); ok is false for a length
// that fits no case (the card answers 67 00).
func parse(b []byte) (a apdu, ok bool) {
	if len(b) < 4 {
		return a, false
	}
	a.cla, a.ins, a.p1, a.p2 = b[0], b[1], b[2], b[3]
	switch {
	case len(b) == 4:
		return a, true
	case len(b) == 5:
		a.hasLe, a.le = true, int(b[4])
		if a.le == 0 {
			a.le = 256
		}
		return a, true
	}
	lc := int(b[4])
	if lc == 0 { // extended length: not supported by the card
		return a, false
	}
	switch len(b) {
	case 5 + lc:
		a.data = b[5:]
		return a, true
	case 6 + lc:
		a.data = b[5 : 5+lc]
		a.hasLe, a.le = true, int(b[5+lc])
		if a.le == 0 {
			a.le = 256
		}
		return a, true
	}
	return a, false
}

func sw(s uint16) []byte { return []byte{byte(s >> 8), byte(s)} }

func withSW(data []byte, s uint16) []byte {
	out := make([]byte, 0, len(data)+2)
	return append(append(out, data...), byte(s>>8), byte(s))
}

// Process answers one command APDU (response data followed by SW1 SW2). It is safe
// for concurrent use; Options.Latency is added to every command.
func (c *Card) Process(cmd []byte) []byte {
	c.mu.Lock()
	lat := c.latency
	c.mu.Unlock()
	if lat > 0 {
		time.Sleep(lat)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.commands++
	resp := c.process(cmd)
	if c.log != nil {
		c.log(MaskPIN(cmd), resp)
	}
	return resp
}

func (c *Card) process(cmd []byte) []byte {
	a, ok := parse(cmd)
	if !ok {
		if len(cmd) >= 2 && cmd[0] != 0x00 && cmd[0] != 0x80 {
			return sw(swCLA)
		}
		return sw(swWrongLength)
	}
	if c.next() {
		return c.processNext(a)
	}
	switch a.cla {
	case 0x00:
		switch a.ins {
		case 0xA4:
			return c.selectFile(a)
		case 0xB0:
			return c.readBinary(a)
		case 0x20:
			return c.verify(a)
		case 0x24:
			return c.changeReference(a)
		case 0x84:
			return c.getChallenge(a)
		}
		return sw(swINS)
	case 0x80:
		if a.ins == 0x2A {
			return c.sign(a)
		}
		return sw(swINS)
	}
	return sw(swCLA)
}

func (c *Card) selectFile(a apdu) []byte {
	switch a.p1 {
	case 0x04: // by DF name
		if a.p2 != 0x0C {
			return sw(swWrongP1P2)
		}
		if len(a.data) == 0 {
			return sw(swWrongLength)
		}
		// An Le (case 4, as some host software sends) is tolerated: no FCI comes back.
		c.deselect()
		if bytes.Equal(a.data, card.AID) && !c.st.Options.HasQuirk(QuirkNoJPKIAP) {
			c.ap = apJPKI
			return sw(swOK)
		}
		for _, aid := range otherAIDs {
			if bytes.Equal(a.data, aid) {
				c.ap = apOther
				return sw(swOK)
			}
		}
		c.ap = apNone
		return sw(swNotFound)
	case 0x02: // EF under the current DF
		if a.p2 != 0x0C {
			return sw(swWrongP1P2)
		}
		if len(a.data) != 2 || a.hasLe {
			return sw(swWrongLength)
		}
		fid := uint16(a.data[0])<<8 | uint16(a.data[1])
		if !c.exists(fid) {
			return sw(swNotFound)
		}
		c.curEF = fid
		return sw(swOK)
	}
	return sw(swWrongP1P2)
}

// exists tells whether fid is an EF of the selected JPKI AP.
func (c *Card) exists(fid uint16) bool {
	if c.ap != apJPKI {
		return false
	}
	if _, ok := c.files[fid]; ok {
		return true
	}
	switch fid {
	case card.EFAuthKey, card.EFAuthPIN:
		return true
	case card.EFSignKey, card.EFSignPIN:
		return c.signKey != nil
	}
	return false
}

// target resolves P with bit 8 set as short-EF addressing (80|SFI, SFI 0 = current
// EF); a card with the no-short-ef quirk refuses an SFI with 6A 86.
func (c *Card) target(p byte) (uint16, uint16) {
	if sfi := uint16(p & 0x1F); sfi != 0 {
		if c.st.Options.HasQuirk(QuirkNoShortEF) {
			return 0, swWrongP1P2
		}
		if !c.exists(sfi) {
			return 0, swNotFound
		}
		c.curEF = sfi
		return sfi, swOK
	}
	if c.curEF == 0 {
		return 0, swNoCurrentEF
	}
	return c.curEF, swOK
}

func (c *Card) readBinary(a apdu) []byte {
	if len(a.data) != 0 || !a.hasLe {
		return sw(swWrongLength)
	}
	var fid uint16
	var off int
	if a.p1&0x80 != 0 {
		if a.p1&0x60 != 0 {
			return sw(swWrongP1P2)
		}
		f, s := c.target(a.p1)
		if s != swOK {
			return sw(s)
		}
		fid, off = f, int(a.p2)
	} else {
		if c.curEF == 0 {
			return sw(swNoCurrentEF)
		}
		fid, off = c.curEF, int(a.p1)<<8|int(a.p2)
	}
	data, ok := c.files[fid]
	if !ok {
		return sw(swIncompatible) // key and PIN EFs are not readable
	}
	if fid == card.EFSignCert && !c.verified[card.EFSignPIN] {
		return sw(swSecurity)
	}
	if fid == card.EFAuthCert && c.st.Options.Phone == PhoneAndroid && !c.verified[card.EFAuthPIN] {
		return sw(swSecurity) // the smartphone certificate: only after the authentication PIN
	}
	if off >= len(data) {
		return sw(swOffset)
	}
	end := min(off+a.le, len(data))
	return withSW(data[off:end], swOK)
}

// pinRef resolves the PIN EF of VERIFY / CHANGE REFERENCE DATA from P2.
func (c *Card) pinRef(p2 byte) (uint16, uint16) {
	if p2&0x80 == 0 || p2&0x60 != 0 {
		return 0, swWrongP1P2
	}
	fid, s := c.target(p2)
	if s != swOK {
		return 0, s
	}
	if fid != card.EFAuthPIN && fid != card.EFSignPIN {
		return 0, swIncompatible
	}
	return fid, swOK
}

func (c *Card) tries(fid uint16) *int {
	if fid == card.EFSignPIN {
		return &c.st.SignTries
	}
	return &c.st.AuthTries
}

func (c *Card) pin(fid uint16) *string {
	if fid == card.EFSignPIN {
		return &c.st.SignPIN
	}
	return &c.st.AuthPIN
}

func (c *Card) verify(a apdu) []byte {
	if a.p1 != 0x00 {
		return sw(swWrongP1P2)
	}
	if a.hasLe || len(a.data) > 16 {
		return sw(swWrongLength)
	}
	fid, s := c.pinRef(a.p2)
	if s != swOK {
		return sw(s)
	}
	t := c.tries(fid)
	if *t == 0 {
		if len(a.data) == 0 && c.st.Options.HasQuirk(QuirkBlocked63C0) {
			return sw(0x63C0)
		}
		return sw(swBlocked)
	}
	if len(a.data) == 0 { // tries left; costs nothing
		if c.verified[fid] && c.st.Options.HasQuirk(QuirkVerify9000) {
			return sw(swOK) // "when the key has already been verified"
		}
		return sw(0x63C0 | uint16(*t))
	}
	max := card.AuthKey.MaxTries()
	if fid == card.EFSignPIN {
		max = card.SignKey.MaxTries()
	}
	return c.comparePIN(fid, t, max, a.data)
}

// comparePIN compares a PIN sent with VERIFY with the one of fid, whose counter is
// t (not yet 0): right, the counter goes back to max and fid is verified; wrong,
// it loses one try and fid is not verified. Every change is saved before the
// answer (a blocked card stays blocked across restarts).
func (c *Card) comparePIN(fid uint16, t *int, max int, pin []byte) []byte {
	old := *t
	if bytes.Equal(pin, []byte(*c.pin(fid))) {
		*t = max
		c.verified[fid] = true
		if old != max {
			if err := c.persist(); err != nil {
				return sw(swMemoryFailure)
			}
		}
		return sw(swOK)
	}
	c.verified[fid] = false
	*t = old - 1
	if err := c.persist(); err != nil {
		*t = old
		return sw(swMemoryFailure)
	}
	return sw(0x63C0 | uint16(*t))
}

func (c *Card) changeReference(a apdu) []byte {
	if a.p1 != 0x01 {
		return sw(swWrongP1P2)
	}
	if a.hasLe || len(a.data) == 0 || len(a.data) > 16 {
		return sw(swWrongLength)
	}
	fid, s := c.pinRef(a.p2)
	if s != swOK {
		return sw(s)
	}
	if *c.tries(fid) == 0 {
		return sw(swBlocked)
	}
	if !c.verified[fid] {
		return sw(swSecurity)
	}
	k := card.AuthKey
	if fid == card.EFSignPIN {
		k = card.SignKey
	}
	p, err := card.CheckPIN(k, a.data)
	if err != nil || !bytes.Equal(p, a.data) { // the card takes upper case only
		card.Wipe(p)
		return sw(swWrongData)
	}
	card.Wipe(p)
	old := *c.pin(fid)
	*c.pin(fid) = string(a.data)
	if err := c.persist(); err != nil {
		*c.pin(fid) = old
		return sw(swMemoryFailure)
	}
	return sw(swOK)
}

func (c *Card) getChallenge(a apdu) []byte {
	if a.p1 != 0 || a.p2 != 0 {
		return sw(swWrongP1P2)
	}
	if len(a.data) != 0 || !a.hasLe {
		return sw(swWrongLength)
	}
	b := make([]byte, a.le)
	_, _ = rand.Read(b)
	return withSW(b, swOK)
}

// DigestInfo prefix of SHA-256 (RFC 8017 §9.2 note 1).
var sha256Prefix = []byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}

func (c *Card) sign(a apdu) []byte {
	resp := c.signCommand(a)
	if c.st.Options.HasQuirk(QuirkLen6985) && len(resp) == 2 && uint16(resp[0])<<8|uint16(resp[1]) == swWrongLength {
		return sw(swConditions) // this card generation's answer to a wrong input length
	}
	return resp
}

func (c *Card) signCommand(a apdu) []byte {
	if a.p1 > 0x05 || (c.st.Options.NoPSS && a.p1 >= 0x04) {
		return sw(swWrongP1P2)
	}
	if a.p2&0x80 == 0 || a.p2&0x60 != 0 {
		return sw(swWrongP1P2)
	}
	fid, s := c.target(a.p2)
	if s != swOK {
		return sw(s)
	}
	var key *rsa.PrivateKey
	var pinEF uint16
	switch fid {
	case card.EFAuthKey:
		key, pinEF = c.authKey, card.EFAuthPIN
	case card.EFSignKey:
		key, pinEF = c.signKey, card.EFSignPIN
	default:
		return sw(swIncompatible)
	}
	if key == nil {
		return sw(swNotFound)
	}
	in := a.data
	if len(in) == 0 {
		return sw(swWrongLength)
	}
	if !c.verified[pinEF] {
		return sw(swSecurity)
	}
	if a.p1 == 0x01 || a.p1 == 0x03 || a.p1 == 0x05 { // the card hashes
		h := sha256.Sum256(in)
		in = h[:]
	}
	var sig []byte
	var err error
	switch a.p1 {
	case 0x00:
		if len(in) > card.MaxDigestInfoSize {
			return sw(swWrongLength)
		}
		sig, err = rsa.SignPKCS1v15(nil, key, crypto.Hash(0), in)
	case 0x01:
		sig, err = rsa.SignPKCS1v15(nil, key, crypto.Hash(0), in)
	case 0x02, 0x03:
		if len(in) != 32 {
			return sw(swWrongLength)
		}
		sig, err = rsa.SignPKCS1v15(nil, key, crypto.Hash(0), append(append([]byte(nil), sha256Prefix...), in...))
	case 0x04, 0x05:
		if len(in) != 32 {
			return sw(swWrongLength)
		}
		sig, err = rsa.SignPSS(rand.Reader, key, crypto.SHA256, in, &rsa.PSSOptions{SaltLength: 32, Hash: crypto.SHA256})
	}
	if err != nil {
		return sw(swWrongData)
	}
	if a.hasLe && a.le < len(sig) {
		return sw(0x6C00 | uint16(len(sig)&0xFF))
	}
	return withSW(sig, swOK)
}
