// The virtual next-generation card (Options.Generation = GenerationNext): the
// authentication AP of the next My Number Card as card/nextgen assumes it
// (card/nextgen/assumed.go is the one place that writes the commands down; this
// emulation answers exactly those). It has no JPKI AP.

package vcard

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"math/big"

	"github.com/jpki-pkcs11/jpki-pkcs11/card"
	"github.com/jpki-pkcs11/jpki-pkcs11/card/nextgen"
)

// ATRNext is the virtual next-generation card's ATR: T=1, historical bytes
// "JPKI-NEXT". The real card's ATR is not known (and cards are not identified
// by their ATR: card/nextgen selects its AP).
var ATRNext = []byte{0x3B, 0x89, 0x80, 0x01, 'J', 'P', 'K', 'I', '-', 'N', 'E', 'X', 'T', 0x3A}

// Status words only the next generation answers.
const (
	swRefNotFound   uint16 = 0x6A88 // referenced data (a PIN or key reference) not found
	swConditionsUse uint16 = 0x6985 // no key set in the security environment
)

// next tells whether c is a next-generation card.
func (c *Card) next() bool { return c.st.Options.Generation == GenerationNext }

// nextFiles lays out the authentication AP's files (card/nextgen's EFs).
func nextFiles(m *material, o Options) map[uint16][]byte {
	f := map[uint16][]byte{
		nextgen.EFTokenInfo:  tokenInfo(nextgen.LabelVirtual, o.TokenSerial),
		nextgen.EFAuthCert:   m.authCert,
		nextgen.EFAuthCACert: m.authCA,
		nextgen.EFPresence:   {0x00, 0x01},
	}
	if m.signCert != nil {
		f[nextgen.EFSignCert], f[nextgen.EFSignCACert] = m.signCert, m.signCA
		f[nextgen.EFPresence] = []byte{0x01, 0x01}
	}
	return f
}

// certFile is the file holding the certificate today's card keeps in EF ef.
func (c *Card) certFile(ef uint16) uint16 {
	if !c.next() {
		return ef
	}
	switch ef {
	case card.EFAuthCert:
		return nextgen.EFAuthCert
	case card.EFAuthCACert:
		return nextgen.EFAuthCACert
	case card.EFSignCert:
		return nextgen.EFSignCert
	case card.EFSignCACert:
		return nextgen.EFSignCACert
	}
	return 0
}

// processNext answers one command of the next generation's (assumed) command set.
func (c *Card) processNext(a apdu) []byte {
	if a.cla != 0x00 {
		return sw(swCLA)
	}
	switch a.ins {
	case 0xA4:
		return c.nextSelect(a)
	case 0xB0:
		return c.nextRead(a)
	case 0x20:
		return c.nextVerify(a)
	case 0x24:
		return c.nextChange(a)
	case 0x22:
		return c.nextSetKey(a)
	case 0x2A:
		return c.nextSign(a)
	case 0x84:
		return c.getChallenge(a)
	}
	return sw(swINS)
}

func (c *Card) nextSelect(a apdu) []byte {
	if a.p2 != 0x0C {
		return sw(swWrongP1P2)
	}
	switch a.p1 {
	case 0x04:
		if len(a.data) == 0 {
			return sw(swWrongLength)
		}
		c.deselect()
		c.ap = apNone
		if bytes.Equal(a.data, nextgen.AID) {
			c.ap = apNext
			return sw(swOK)
		}
		return sw(swNotFound) // the JPKI AP does not exist on this card
	case 0x02:
		if len(a.data) != 2 || a.hasLe {
			return sw(swWrongLength)
		}
		fid := uint16(a.data[0])<<8 | uint16(a.data[1])
		if _, ok := c.files[fid]; !ok || c.ap != apNext {
			return sw(swNotFound)
		}
		c.curEF = fid
		return sw(swOK)
	}
	return sw(swWrongP1P2)
}

func (c *Card) nextRead(a apdu) []byte {
	if len(a.data) != 0 || !a.hasLe {
		return sw(swWrongLength)
	}
	if a.p1&0x80 != 0 {
		return sw(swWrongP1P2) // no short-EF addressing (assumed)
	}
	if c.curEF == 0 {
		return sw(swNoCurrentEF)
	}
	data := c.files[c.curEF]
	if c.curEF == nextgen.EFSignCert && !c.verified[card.EFSignPIN] {
		return sw(swSecurity)
	}
	off := int(a.p1)<<8 | int(a.p2)
	if off >= len(data) {
		return sw(swOffset)
	}
	return withSW(data[off:min(off+a.le, len(data))], swOK)
}

// nextPIN resolves a PIN reference (P2) to the PIN EF today's card state is kept
// under (tries, PIN and verification are shared with the RSA emulation's helpers).
func (c *Card) nextPIN(p2 byte) (uint16, card.Key, uint16) {
	switch {
	case p2 == nextgen.PINRefAuth:
		return card.EFAuthPIN, card.AuthKey, swOK
	case p2 == nextgen.PINRefSign && c.ecSign != nil:
		return card.EFSignPIN, card.SignKey, swOK
	}
	return 0, 0, swRefNotFound
}

func (c *Card) nextVerify(a apdu) []byte {
	if a.p1 != 0x00 {
		return sw(swWrongP1P2)
	}
	if a.hasLe || len(a.data) > 16 {
		return sw(swWrongLength)
	}
	if c.ap != apNext {
		return sw(swNoCurrentEF)
	}
	fid, k, s := c.nextPIN(a.p2)
	if s != swOK {
		return sw(s)
	}
	t := c.tries(fid)
	if *t == 0 {
		return sw(swBlocked)
	}
	if len(a.data) == 0 {
		return sw(0x63C0 | uint16(*t))
	}
	return c.comparePIN(fid, t, k.MaxTries(), a.data)
}

func (c *Card) nextChange(a apdu) []byte {
	if a.p1 != 0x01 {
		return sw(swWrongP1P2)
	}
	if a.hasLe || len(a.data) == 0 || len(a.data) > 16 {
		return sw(swWrongLength)
	}
	if c.ap != apNext {
		return sw(swNoCurrentEF)
	}
	fid, k, s := c.nextPIN(a.p2)
	if s != swOK {
		return sw(s)
	}
	if *c.tries(fid) == 0 {
		return sw(swBlocked)
	}
	if !c.verified[fid] {
		return sw(swSecurity)
	}
	p, err := card.CheckPIN(k, a.data)
	ok := err == nil && bytes.Equal(p, a.data) // the card takes upper case only
	card.Wipe(p)
	if !ok {
		return sw(swWrongData)
	}
	old := *c.pin(fid)
	*c.pin(fid) = string(a.data)
	if err := c.persist(); err != nil {
		*c.pin(fid) = old
		return sw(swMemoryFailure)
	}
	return sw(swOK)
}

// nextKey is the key of a key reference and the PIN EF that unlocks it.
func (c *Card) nextKey(ref byte) (*ecdsa.PrivateKey, uint16) {
	switch ref {
	case nextgen.KeyRefAuth:
		return c.ecAuth, card.EFAuthPIN
	case nextgen.KeyRefSign:
		return c.ecSign, card.EFSignPIN
	}
	return nil, 0
}

// nextSetKey is MSE:SET of the digital signature template: 84 01 <key reference>.
func (c *Card) nextSetKey(a apdu) []byte {
	if a.p1 != nextgen.MSESetP1 || a.p2 != nextgen.MSESetP2 {
		return sw(swWrongP1P2)
	}
	if a.hasLe || len(a.data) != 3 || a.data[0] != nextgen.TagKeyRef || a.data[1] != 1 {
		return sw(swWrongData)
	}
	if c.ap != apNext {
		return sw(swNoCurrentEF)
	}
	if k, _ := c.nextKey(a.data[2]); k == nil {
		c.seKey = 0
		return sw(swRefNotFound)
	}
	c.seKey = a.data[2]
	return sw(swOK)
}

// nextSign is PSO: COMPUTE DIGITAL SIGNATURE with the key of the security
// environment over a hash of 1 to 64 bytes: r||s, 48 bytes each.
func (c *Card) nextSign(a apdu) []byte {
	if a.p1 != nextgen.PSOCDSP1 || a.p2 != nextgen.PSOCDSP2 {
		return sw(swWrongP1P2)
	}
	if len(a.data) == 0 || len(a.data) > card.MaxECDSAInput {
		return sw(swWrongLength)
	}
	key, pinEF := c.nextKey(c.seKey)
	if key == nil {
		return sw(swConditionsUse)
	}
	if !c.verified[pinEF] {
		return sw(swSecurity)
	}
	r, s, err := fullLength(key, a.data)
	if err != nil {
		return sw(swWrongData)
	}
	sig := append(fixed(r, 48), fixed(s, 48)...)
	if a.hasLe && a.le < len(sig) {
		return sw(0x6C00 | uint16(len(sig)))
	}
	return withSW(sig, swOK)
}

// fullLength signs hash with r and s both as long as the curve order (384 bits):
// k is drawn again until r is, and s is replaced by n - s when it is not (both
// are valid ECDSA signatures). So every DER signature a host makes of the r||s
// has the same length. poppler 22.12's pdfsig (Debian 12) sizes the room for a
// signature with a first, dummy signature and fails when the real one differs
// in length, as half of all ECDSA signatures do; a real card makes no such
// promise (README, "The next card generation").
func fullLength(key *ecdsa.PrivateKey, hash []byte) (r, s *big.Int, err error) {
	n := key.Curve.Params().N
	for {
		if r, s, err = ecdsa.Sign(rand.Reader, key, hash); err != nil {
			return nil, nil, err
		}
		if s.BitLen() < n.BitLen() {
			s = new(big.Int).Sub(n, s)
		}
		if r.BitLen() == n.BitLen() && s.BitLen() == n.BitLen() {
			return r, s, nil
		}
	}
}

// fixed is n as an unsigned big-endian integer of exactly size bytes.
func fixed(n *big.Int, size int) []byte {
	return n.FillBytes(make([]byte, size))
}
