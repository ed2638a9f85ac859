package card

import (
	"errors"
	"fmt"
	"slices"
)

// ErrNotLoggedIn is returned by Sign when the key's PIN is not verified in the
// card's current security state (never verified, logged out, or lost to a reset or
// to another application selecting the AP). No signature APDU is sent in that case,
// except when the card itself answers 69 82, which is reported the same way.
var ErrNotLoggedIn = errors.New("card: PIN not verified for this key (login lost or never done)")

// ErrNoJPKI is returned when the card has no JPKI application.
var ErrNoJPKI = errors.New("card: no JPKI application on this card")

// MaxFileSize bounds any file read: offsets are 15 bits.
const MaxFileSize = 0x7FFF

// Card speaks the JPKI protocol to one card over a Transport. It keeps a model of
// the card's security state (AP selected, current EF, verified PINs) so it sends no
// APDU it does not need. A Card is not safe for concurrent use: the caller
// serialises (session/ holds one lock per card).
type Card struct {
	t        Transport
	selected bool   // JPKI AP selected since the last reset
	curEF    uint16 // EF selected inside the AP, 0 when unknown
	verified map[Key]bool
	epoch    uint64 // bumped every time the security state is lost
	noSFI    bool   // the card refused short-EF addressing: READ BINARY after SELECT only
	noSFISig bool   // the card refused a short EF in the signature command: SELECT first
	// heads caches the first bytes of files read by ReadHead, so that ReadFile
	// continues where ReadHead stopped. Files do not change while the card is in.
	heads map[uint16][]byte
	// APDUs counts command APDUs sent (for tests and benchmarks).
	APDUs int

	// Batch state: inBatch while Batch runs its function; batchTx while the
	// transaction its operations share is open; batchErr is what beginning
	// that transaction failed with.
	inBatch  bool
	batchTx  bool
	batchErr error
}

// New returns a Card over t. Nothing is sent until the first operation.
func New(t Transport) *Card {
	return &Card{t: t, verified: map[Key]bool{}, heads: map[uint16][]byte{}}
}

// Transport returns the transport the card talks over.
func (c *Card) Transport() Transport { return c.t }

// Epoch changes every time the card's security state is lost (reset, AP
// reselected). It lets a caller tell whether a login it saw still holds.
func (c *Card) Epoch() uint64 { return c.epoch }

// LoggedIn reports, without an APDU, whether the PIN of k is verified in the
// security state this Card knows of.
func (c *Card) LoggedIn(k Key) bool { return c.verified[k] }

func (c *Card) lost() {
	c.selected = false
	c.curEF = 0
	clear(c.verified)
	c.epoch++
}

// Do runs f inside one PC/SC transaction. A reset seen at Begin drops the security
// state and f still runs (on a card that has to be selected again). Inside Batch,
// f runs in the batch's transaction.
//
// The EF selected inside the AP is forgotten at the start of every transaction:
// between two transactions another application may have selected another file (a
// PIN EF, the other key), and a VERIFY or a signature sent to the EF it left
// selected would spend the wrong PIN's try or sign with the wrong key.
func (c *Card) Do(f func() error) error {
	if c.inBatch {
		return c.doBatched(f)
	}
	if err := c.begin(); err != nil {
		return err
	}
	defer c.t.End()
	return f()
}

// doBatched runs f in the batch's transaction, which the batch's first
// operation begins (so a batch that needs no APDU costs no PC/SC call).
func (c *Card) doBatched(f func() error) error {
	if c.batchErr != nil {
		return c.batchErr
	}
	if !c.batchTx {
		if err := c.begin(); err != nil {
			c.batchErr = err
			return err
		}
		c.batchTx = true
	}
	return f()
}

// begin begins a PC/SC transaction, keeping the security state model true.
func (c *Card) begin() error {
	c.curEF = 0
	err := c.t.Begin()
	switch {
	case errors.Is(err, ErrReset):
		c.lost()
	case err != nil:
		if errors.Is(err, ErrRemoved) || errors.Is(err, ErrNoCard) || errors.Is(err, ErrServiceGone) {
			c.lost()
		}
		return err
	}
	return nil
}

// Batch runs f with one PC/SC transaction shared by the card operations f
// performs, which would otherwise each begin and end their own: with several
// threads waiting on one card, their operations run back to back without
// handing the card to PC/SC in between (two round trips to the PC/SC service
// saved per operation). The first operation that needs the card begins the
// transaction; it ends when f returns. The caller bounds how much f does, since
// other applications wait for the whole batch. When the transaction cannot
// begin, the operations after that fail with the same error without asking
// PC/SC again, as each would have alone. A transport error ends the shared
// transaction; the next operation begins a new one.
func (c *Card) Batch(f func()) {
	if c.inBatch {
		f()
		return
	}
	c.inBatch = true
	defer func() {
		c.endBatchTx()
		c.inBatch, c.batchErr = false, nil
	}()
	f()
}

// endBatchTx ends the batch's transaction if one is open.
func (c *Card) endBatchTx() {
	if c.batchTx {
		c.batchTx = false
		c.t.End() // after a transport error this may fail: nothing to keep then
	}
}

// transmit sends one command and parses the answer; transport errors drop the
// security state model.
func (c *Card) transmit(cmd Command) (Response, error) {
	raw, err := cmd.Bytes()
	if err != nil {
		return Response{}, err
	}
	c.APDUs++
	out, err := c.t.Transmit(raw)
	Wipe(raw) // may hold a PIN
	if err != nil {
		c.lost()
		c.endBatchTx()
		return Response{}, err
	}
	return ParseResponse(out)
}

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
			c.curEF = fid
			return r.Data, nil
		case r.SW == uint16(ErrSecurityStatus):
			return nil, ErrSecurityStatus
		case sfiRefused(r.SW):
			c.noSFI = true
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
			c.curEF = fid
			return append(buf, r.Data...), nil
		case r.SW == uint16(ErrSecurityStatus):
			return nil, ErrSecurityStatus
		case sfiRefused(r.SW):
			c.noSFI = true
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

// Identify selects the JPKI AP and reads the token info and certificate-presence EFs.
// A card without the AP yields Info{Kind: KindNotJPKI} and no error.
func (c *Card) Identify() (Info, error) {
	var info Info
	err := c.Do(func() error {
		c.selected = false // always check the AP is there: identification starts clean
		if err := c.selectAP(); err != nil {
			return err
		}
		ti, err := c.readEF(EFTokenInfo, 32)
		if err != nil {
			return err
		}
		info.TokenLabel = ParseTokenLabel(ti)
		pr, err := c.readEF(EFPresence, 3)
		if err != nil && !errors.Is(err, ErrFileNotFound) {
			return err
		}
		info.HasSignCert, info.HasAuthCert = ParsePresence(pr)
		return nil
	})
	if errors.Is(err, ErrNoJPKI) {
		return Info{Kind: KindNotJPKI}, nil
	}
	if err != nil {
		return Info{}, err
	}
	info.Kind = Classify(info)
	return info, nil
}

// ParseTokenLabel returns the label of EF 0006: the first 32 bytes, trailing
// spaces and NULs trimmed, non-printable bytes dropped.
func ParseTokenLabel(b []byte) string {
	if len(b) > 32 {
		b = b[:32]
	}
	out := make([]byte, 0, len(b))
	for _, ch := range b {
		if ch >= 0x20 && ch < 0x7F {
			out = append(out, ch)
		}
	}
	for len(out) > 0 && out[len(out)-1] == ' ' {
		out = out[:len(out)-1]
	}
	return string(out)
}

// ParsePresence decodes EF 0008: byte 0 non-zero = signature certificate present,
// byte 1 non-zero = authentication certificate present. A short or missing file
// says the authentication certificate is present and the signature one is not
// known to be.
func ParsePresence(b []byte) (sign, auth bool) {
	if len(b) < 2 {
		return len(b) == 1 && b[0] != 0, true
	}
	return b[0] != 0, b[1] != 0
}

// Classify tells the kind of card from its token label and presence flags.
func Classify(info Info) Kind {
	switch info.TokenLabel {
	case LabelJuki:
		return KindJuki
	case LabelMyNumber:
		if !info.HasSignCert {
			return KindMyNumberNoSign
		}
		return KindMyNumber
	case LabelAndroid, LabelIPhone:
		return KindOther
	}
	if !info.HasSignCert {
		return KindMyNumberNoSign
	}
	return KindMyNumber
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

// TriesLeft asks how many PIN tries remain for k; it costs no try (VERIFY with no
// data). A blocked PIN gives 0 and no error.
func (c *Card) TriesLeft(k Key) (int, error) {
	n := 0
	err := c.Do(func() error {
		if err := c.selectEF(k.PINFile()); err != nil {
			return err
		}
		r, err := c.transmit(Command{CLA: 0x00, INS: 0x20, P1: 0x00, P2: 0x80})
		if err != nil {
			return err
		}
		if r.SW == 0x9000 {
			n = k.MaxTries()
			return nil
		}
		se := StatusError(r.SW)
		if t, ok := se.TriesLeft(); ok {
			n = t
			return nil
		}
		if errors.Is(se, ErrPINBlocked) {
			n = 0
			return nil
		}
		return fmt.Errorf("tries left for the %v PIN: %w", k, se)
	})
	return n, err
}

// Verify checks the PIN for k with the card. The PIN must pass CheckPIN first;
// a malformed PIN is refused with ErrPINFormat and nothing is sent. On a wrong PIN
// the error matches ErrWrongPIN and carries the tries left (StatusError.TriesLeft);
// a blocked PIN matches ErrPINBlocked. It never retries.
func (c *Card) Verify(k Key, pin []byte) error {
	p, err := CheckPIN(k, pin)
	if err != nil {
		return err
	}
	defer Wipe(p)
	return c.Do(func() error { return c.verify(k, p) })
}

func (c *Card) verify(k Key, p []byte) error {
	if err := c.selectEF(k.PINFile()); err != nil {
		return err
	}
	c.verified[k] = false
	r, err := c.transmit(Command{CLA: 0x00, INS: 0x20, P1: 0x00, P2: 0x80, Data: p})
	if err != nil {
		return err
	}
	if err := r.Err(); err != nil {
		return fmt.Errorf("verify %v PIN: %w", k, err)
	}
	c.verified[k] = true
	return nil
}

// ChangePIN verifies oldPIN and sets newPIN for k, in one transaction. Both are
// checked by CheckPIN before anything is sent.
func (c *Card) ChangePIN(k Key, oldPIN, newPIN []byte) error {
	o, err := CheckPIN(k, oldPIN)
	if err != nil {
		return err
	}
	defer Wipe(o)
	n, err := CheckPIN(k, newPIN)
	if err != nil {
		return fmt.Errorf("new PIN: %w", err)
	}
	defer Wipe(n)
	return c.Do(func() error {
		if err := c.verify(k, o); err != nil {
			return err
		}
		r, err := c.transmit(Command{CLA: 0x00, INS: 0x24, P1: 0x01, P2: 0x80, Data: n})
		if err != nil {
			return err
		}
		if err := r.Err(); err != nil {
			return fmt.Errorf("change %v PIN: %w", k, err)
		}
		return nil
	})
}

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
				c.noSFISig = true // the short EF was the problem: SELECT from now on
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
		c.curEF = key
		return &sent, true, nil
	}
	c.curEF = 0
	return nil, true, nil
}

// Logout forgets the verification of k. When no other key stays verified, the AP
// is selected again so the card itself drops the security state; otherwise only
// this Card's model forgets it (the card cannot drop one PIN alone).
func (c *Card) Logout(k Key) error {
	c.verified[k] = false
	for _, v := range c.verified {
		if v {
			return nil
		}
	}
	return c.Do(func() error {
		c.selected = false
		return c.selectAP()
	})
}

// IsNotLoggedIn reports whether err means the key's PIN is not verified now.
func IsNotLoggedIn(err error) bool { return errors.Is(err, ErrNotLoggedIn) }
