// Signatures: the signature command, the key named by short EF where the card
// takes it.

package card

import (
	"errors"
	"fmt"
)

// Signature schemes: P1 of the signature command (shared/JPKI.md §2).
const (
	SchemePKCS1       byte = 0x00 // PKCS#1 v1.5 over a DigestInfo given by the host
	SchemePSSSHA256   byte = 0x04 // RSASSA-PSS over a 32-byte SHA-256 hash, MGF1-SHA-256, salt 32
	MaxDigestInfoSize      = 245
)

// Sign signs input with key k using scheme p1 (SchemePKCS1: a DigestInfo of at most
// 245 bytes). It sends nothing and returns ErrNotLoggedIn when the key's PIN is not
// verified in the current security state.
func (c *Card) Sign(k Key, p1 byte, input []byte) ([]byte, error) {
	if len(input) == 0 || len(input) > MaxDigestInfoSize {
		return nil, fmt.Errorf("sign: input of %d bytes (1 to %d allowed)", len(input), MaxDigestInfoSize)
	}
	if !c.verified[k] {
		return nil, ErrNotLoggedIn // known without asking PC/SC
	}
	var sig []byte
	err := c.Do(func() error {
		if !c.verified[k] { // lost at Begin (reset)
			return ErrNotLoggedIn
		}
		r, tried, err := c.signShortEF(k, p1, input)
		if err != nil {
			return err
		}
		if r == nil {
			known := c.curEF == k.KeyFile()
			if err := c.selectEF(k.KeyFile()); err != nil {
				return err
			}
			sent, err := c.transmit(Command{CLA: 0x80, INS: 0x2A, P1: p1, P2: 0x80, Data: input, Le: 256})
			if err != nil {
				return err
			}
			if known && sent.SW == 0x6986 {
				// No current EF: another application selected something since our
				// SELECT. Select the key again and ask once more; that answer counts
				// (69 82 when the other application's SELECT dropped the PIN).
				c.curEF = 0
				if err := c.selectEF(k.KeyFile()); err != nil {
					return err
				}
				if sent, err = c.transmit(Command{CLA: 0x80, INS: 0x2A, P1: p1, P2: 0x80, Data: input, Le: 256}); err != nil {
					return err
				}
			}
			r = &sent
			if tried && sent.SW == 0x9000 {
				c.noSFISig, c.sfiSignRefused = true, true // the short EF was the problem: SELECT from now on
			}
		}
		if err := r.Err(); err != nil {
			if errors.Is(err, ErrSecurityStatus) {
				c.verified[k] = false
			}
			return fmt.Errorf("sign with the %v key: %w", k, c.securityErr(err))
		}
		sig = r.Data
		return nil
	})
	return sig, err
}

// signShortEF sends the signature command naming the key by its short EF (P2 =
// 80|SFI, shared/JPKI.md §2), which saves the SELECT of the key EF and names the
// key explicitly in the command itself, whatever another application selected
// since our last transaction. Short-EF addressing is not yet confirmed on every
// card generation, so it is not used when a key EF is known to be current in this
// transaction (a card that ignored P2 could sign with that key), and any answer but 90 00 is
// discarded: the caller asks again through SELECT + P2 = 80, whose answer counts.
// A card that signs through SELECT after refusing the short EF is not asked with
// one again. It returns a nil response when the caller must use SELECT, and
// tried when it sent a command that failed.
func (c *Card) signShortEF(k Key, p1 byte, input []byte) (r *Response, tried bool, err error) {
	key := k.KeyFile()
	if c.noSFISig || c.curEF == EFAuthKey || c.curEF == EFSignKey || !shortEF(key) {
		return nil, false, nil
	}
	sent, err := c.transmit(Command{CLA: 0x80, INS: 0x2A, P1: p1, P2: 0x80 | byte(key), Data: input, Le: 256})
	if err != nil {
		return nil, true, err
	}
	if sent.SW == 0x9000 {
		c.curEF, c.sfiSignOK = key, true
		return &sent, true, nil
	}
	c.curEF = 0
	return nil, true, nil
}
