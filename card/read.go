// Reads: selecting the AP and EFs, READ BINARY (by short EF where the card takes
// it), whole DER files.

package card

import (
	"errors"
	"fmt"
	"slices"
)

// selectAP selects the JPKI AP if this Card does not know it to be selected.
func (c *Card) selectAP() error {
	if c.selected {
		return nil
	}
	r, err := c.transmit(Command{CLA: 0x00, INS: 0xA4, P1: 0x04, P2: 0x0C, Data: AID})
	if err != nil {
		return err
	}
	c.lost() // a select drops whatever was verified
	if r.SW == uint16(ErrFileNotFound) {
		return ErrNoJPKI
	}
	if err := r.Err(); err != nil {
		return fmt.Errorf("select JPKI AP: %w", err)
	}
	c.selected = true
	return nil
}

// selectEF selects an EF inside the AP (P1=02, no response data).
func (c *Card) selectEF(fid uint16) error {
	if err := c.selectAP(); err != nil {
		return err
	}
	if c.curEF == fid {
		return nil
	}
	r, err := c.transmit(Command{CLA: 0x00, INS: 0xA4, P1: 0x02, P2: 0x0C, Data: []byte{byte(fid >> 8), byte(fid)}})
	if err != nil {
		return err
	}
	if err := r.Err(); err != nil {
		c.curEF = 0
		return fmt.Errorf("select EF %04X: %w", fid, err)
	}
	c.curEF = fid
	return nil
}

// readBinary reads up to n (1..256) bytes at off of the current EF.
func (c *Card) readBinary(off, n int) ([]byte, error) {
	if off < 0 || off > MaxFileSize {
		return nil, fmt.Errorf("read binary: offset %#x beyond 15 bits", off)
	}
	r, err := c.transmit(Command{CLA: 0x00, INS: 0xB0, P1: byte(off >> 8), P2: byte(off), Le: n})
	if err != nil {
		return nil, err
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	if len(r.Data) > n {
		return nil, fmt.Errorf("read binary: card returned %d bytes for Le %d", len(r.Data), n)
	}
	return r.Data, nil
}

// readEF reads exactly n bytes of EF fid from offset 0.
func (c *Card) readEF(fid uint16, n int) ([]byte, error) {
	first, err := c.readFirst(fid, min(n, 256))
	if err != nil {
		return nil, err
	}
	return c.readAt(fid, first, n)
}

// shortEF reports whether fid can be named by a short EF identifier (1 to 30).
func shortEF(fid uint16) bool { return fid >= 1 && fid <= 30 }

// sfiRefused tells the status words of a card that does not take short-EF
// addressing in READ BINARY.
func sfiRefused(sw uint16) bool {
	switch StatusError(sw) {
	case ErrIncorrectP1P2, ErrINSNotSupported, 0x6A81, 0x6986:
		return true
	}
	return false
}

// refuseShortEF notes that the card refused short-EF addressing in READ BINARY:
// reads go through SELECT from now on, and so do signatures. Short-EF addressing
// is one feature of the card's file system: a card that refuses it in READ BINARY
// is not asked with a short EF in the signature command either, which would cost
// one refused APDU before every first signature (measured on a card that refuses
// both: 20 APDUs for a cold login and signature instead of 19).
func (c *Card) refuseShortEF() {
	c.noSFI, c.noSFISig = true, true
}

// readFirst reads up to n (1..256) bytes at offset 0 of EF fid and leaves fid the
// current EF. When fid is not the current EF it names it by its short EF
// identifier in READ BINARY (P1 = 80|SFI, shared/JPKI.md §2), which saves the
// SELECT round trip. Short-EF addressing is not yet confirmed on every card
// generation: a card that refuses it (6A 86, 6D 00, 6A 81, 69 86) is asked again
// with SELECT + READ BINARY and never with a short EF again; any other failure but
// 69 82 is also asked again through SELECT, so the error reported is the one the
// plain path gives (a missing file costs one APDU more).
func (c *Card) readFirst(fid uint16, n int) ([]byte, error) {
	if err := c.selectAP(); err != nil {
		return nil, err
	}
	if c.curEF != fid && shortEF(fid) && !c.noSFI {
		r, err := c.transmit(Command{CLA: 0x00, INS: 0xB0, P1: 0x80 | byte(fid), P2: 0x00, Le: n})
		if err != nil {
			return nil, err
		}
		c.curEF = 0 // what the card selected when it failed is not known
		switch {
		case r.SW == 0x9000:
			if len(r.Data) > n {
				return nil, fmt.Errorf("read binary: card returned %d bytes for Le %d", len(r.Data), n)
			}
			c.curEF, c.sfiReadOK = fid, true
			return r.Data, nil
		case r.SW == uint16(ErrSecurityStatus):
			return nil, ErrSecurityStatus
		case sfiRefused(r.SW):
			c.refuseShortEF()
		}
	}
	if err := c.selectEF(fid); err != nil {
		return nil, err
	}
	return c.readBinary(0, n)
}

// readContinue reads the chunk of EF fid that follows buf (a head cached by an
// earlier transaction) and leaves fid the current EF: by short EF (READ BINARY P1 =
// 80|SFI, P2 = offset) while the offset fits P2, else after a SELECT. It returns buf
// and the chunk.
func (c *Card) readContinue(fid uint16, buf []byte, total int) ([]byte, error) {
	if err := c.selectAP(); err != nil {
		return nil, err
	}
	off, chunk := len(buf), min(total-len(buf), 256)
	if shortEF(fid) && !c.noSFI && off <= 0xFF {
		r, err := c.transmit(Command{CLA: 0x00, INS: 0xB0, P1: 0x80 | byte(fid), P2: byte(off), Le: chunk})
		if err != nil {
			return nil, err
		}
		switch {
		case r.SW == 0x9000:
			if len(r.Data) != chunk {
				return nil, fmt.Errorf("read EF %04X at %d: card returned %d of %d bytes", fid, off, len(r.Data), chunk)
			}
			c.curEF, c.sfiReadOK = fid, true
			return append(buf, r.Data...), nil
		case r.SW == uint16(ErrSecurityStatus):
			return nil, ErrSecurityStatus
		case sfiRefused(r.SW):
			c.refuseShortEF()
		}
	}
	if err := c.selectEF(fid); err != nil {
		return nil, err
	}
	return buf, nil
}

// readAt appends to buf file bytes from len(buf) until it holds n bytes.
func (c *Card) readAt(fid uint16, buf []byte, n int) ([]byte, error) {
	if n > MaxFileSize+1 {
		return nil, fmt.Errorf("EF %04X: length %d beyond the largest file a card can hold", fid, n)
	}
	for len(buf) < n {
		chunk := min(n-len(buf), 256)
		b, err := c.readBinary(len(buf), chunk)
		if err != nil {
			return nil, fmt.Errorf("read EF %04X at %d: %w", fid, len(buf), err)
		}
		// A card answers min(Le, bytes left): a short chunk means the file is shorter
		// than its header says, and accepting it would let a hostile card stretch one
		// read into 32768 one-byte commands.
		if len(b) < chunk {
			return nil, fmt.Errorf("read EF %04X at %d: card returned %d of %d bytes", fid, len(buf), len(b), chunk)
		}
		buf = append(buf, b...)
	}
	return buf, nil
}

// ReadFile reads a whole DER-encoded file (a certificate) from ef: it reads the
// first 256 bytes (a certificate is longer: one APDU instead of a 7-byte header
// read), decodes the DER header to learn the length, then reads the rest in chunks
// of at most 256 bytes.
func (c *Card) ReadFile(ef uint16) ([]byte, error) {
	var out []byte
	err := c.Do(func() error {
		head, cached := c.heads[ef]
		if cached {
			head = slices.Clone(head)
		} else {
			var err error
			if head, err = c.readFirst(ef, 256); err != nil {
				return fmt.Errorf("read EF %04X header: %w", ef, c.securityErr(err))
			}
		}
		total, err := DERLength(head)
		if err != nil {
			return fmt.Errorf("EF %04X: %w", ef, err)
		}
		switch {
		case len(head) > total:
			head = head[:total]
		case len(head) < total && len(head) < 256 && !cached:
			// a card answers min(Le, bytes left): the file is shorter than its header says
			return fmt.Errorf("read EF %04X: card returned %d of 256 bytes of a %d-byte file", ef, len(head), total)
		}
		if cached && len(head) < total {
			if head, err = c.readContinue(ef, head, total); err != nil {
				return fmt.Errorf("read EF %04X: %w", ef, c.securityErr(err))
			}
		}
		out, err = c.readAt(ef, head, total)
		return err
	})
	return out, err
}

// securityErr turns 69 82 into ErrNotLoggedIn (wrapping the status word).
func (c *Card) securityErr(err error) error {
	if errors.Is(err, ErrSecurityStatus) {
		return fmt.Errorf("%w: %w", ErrNotLoggedIn, err)
	}
	return err
}

// DERLength returns the total length (header + content) of the DER element whose
// first bytes are head. Indefinite and over-long lengths are refused.
func DERLength(head []byte) (int, error) {
	if len(head) < 2 {
		return 0, fmt.Errorf("DER header: %d bytes", len(head))
	}
	if head[0]&0x1F == 0x1F {
		return 0, fmt.Errorf("DER header: multi-byte tags not expected")
	}
	l := int(head[1])
	if l < 0x80 {
		return 2 + l, nil
	}
	n := l & 0x7F
	if n == 0 || n > 2 {
		return 0, fmt.Errorf("DER header: length of %d bytes not supported", n)
	}
	if len(head) < 2+n {
		return 0, fmt.Errorf("DER header truncated")
	}
	v := 0
	for _, b := range head[2 : 2+n] {
		v = v<<8 | int(b)
	}
	total := 2 + n + v
	if total > MaxFileSize+1 {
		return 0, fmt.Errorf("DER length %d beyond the largest file a card can hold", total)
	}
	return total, nil
}
