// Package nextgen speaks to the next generation of My Number Card (planned from
// 2026: ECDSA over P-384 with SHA-384, 10-year certificates, the applications
// regrouped; shared/JPKI.md §7-8) as a card.Generation. Its commands are not
// public: every command, file and value this package sends is an assumption,
// written down in assumed.go and nowhere else, to be replaced when the real ones
// are published. Until then only the virtual next-generation card (vcard,
// `jpki-vcard new --generation next`) identifies as one, and a Card sends nothing
// but its identification (SELECT of the assumed AID, then the label) to a card
// that did not identify as one.
package nextgen

import (
	"errors"
	"fmt"
	"slices"

	"github.com/jpki-pkcs11/jpki-pkcs11/card"
)

// ErrNotIdentified is returned, without any APDU, by every operation of a Card
// whose Identify did not find a next-generation card.
var ErrNotIdentified = errors.New("nextgen: the card did not identify as a next-generation card: nothing sent")

// Card speaks the (assumed) commands of the next generation's authentication AP
// to one card over a Transport. It keeps a model of the card's security state (AP
// selected, current EF, key of the security environment, verified PINs) so it
// sends no APDU it does not need. A Card is not safe for concurrent use: the
// caller serialises.
type Card struct {
	ch         card.Channel // transactions, batches, the APDU count
	identified bool         // Identify found a next-generation card: only then are other commands sent
	selected   bool         // authentication AP selected since the last reset
	curEF      uint16       // EF selected inside the AP, 0 when unknown
	keyRef     byte         // key of the security environment (MSE:SET), 0 when unknown
	verified   map[card.Key]bool
	heads      map[uint16][]byte // first bytes of files read by ReadHead (files do not change)
}

var _ card.Generation = (*Card)(nil)

// New returns a Card over t. Nothing is sent until the first operation.
func New(t card.Transport) *Card {
	c := &Card{verified: map[card.Key]bool{}, heads: map[uint16][]byte{}}
	// the EF and the key of the security environment may have changed since our
	// last transaction
	c.ch = card.NewChannel(t, func() { c.curEF, c.keyRef = 0, 0 }, c.lost)
	return c
}

// do runs f inside one PC/SC transaction (the batch's one inside Batch).
func (c *Card) do(f func() error) error { return c.ch.Do(f) }

// Batch runs f with one PC/SC transaction shared by the operations f performs
// (card.Channel.Batch).
func (c *Card) Batch(f func()) { c.ch.Batch(f) }

// APDUs is how many command APDUs this Card sent (for tests).
func (c *Card) APDUs() int { return c.ch.APDUs() }

// transmit sends one command (card.Channel.Transmit).
func (c *Card) transmit(cmd card.Command) (card.Response, error) { return c.ch.Transmit(cmd) }

// Generation is New as card.Open takes it: card.Open(t, nextgen.Generation).
func Generation(t card.Transport) card.Generation { return New(t) }

// Transport returns the transport the card talks over.
func (c *Card) Transport() card.Transport { return c.ch.Transport() }

// Algorithm is card.ECDSAP384.
func (c *Card) Algorithm() card.Algorithm { return card.ECDSAP384 }

// LoggedIn reports, without an APDU, whether k's PIN is verified in the security
// state this Card knows of.
func (c *Card) LoggedIn(k card.Key) bool { return c.verified[k] }

// lost forgets the security state (AP selected again, card reset).
func (c *Card) lost() {
	c.selected, c.curEF, c.keyRef = false, 0, 0
	clear(c.verified)
}

// Identify selects the assumed authentication AP and reads its label and the
// certificate-presence file. A card without the AP (any answer but 90 00 to the
// SELECT) gives Info{Kind: KindNotJPKI} and no error, after that one APDU; a card
// that has the AP but not the virtual card's label gives a
// *card.NotYetSupportedError (card.ErrNotYetSupported), and nothing more is sent.
// Info.Token holds the label (the first 32 bytes of the label file, as today's
// EF 0006: nothing else of it is read); the certificates are readable without a PIN but the signature certificate
// (Info.AuthCertNeedsPIN false); there is no EF 0008 (Info.Presence nil).
func (c *Card) Identify() (card.Info, error) {
	var info card.Info
	err := c.do(func() error {
		c.identified = false
		r, err := c.transmit(selectAP())
		if err != nil {
			return err
		}
		c.lost()
		if r.SW != 0x9000 {
			return errNoAP
		}
		c.selected = true
		ti, err := c.readEF(EFTokenInfo, 32)
		var se card.StatusError
		if errors.As(err, &se) {
			return &card.NotYetSupportedError{AID: AID, Reason: fmt.Sprintf(
				"it answers the next generation's assumed AID but not its label file (%v): not the virtual card", err)}
		}
		if err != nil {
			return fmt.Errorf("next generation: token info: %w", err)
		}
		info.TokenLabel = card.ParseTokenLabel(ti)
		if info.TokenLabel != LabelVirtual {
			return &card.NotYetSupportedError{AID: AID, Reason: fmt.Sprintf(
				"it answers the next generation's assumed AID with the label %q, not the virtual card's", info.TokenLabel)}
		}
		info.Token = card.ParseTokenInfo(ti)
		pr, err := c.readEF(EFPresence, 2)
		if err != nil {
			return fmt.Errorf("next generation: certificate presence: %w", err)
		}
		info.HasSignCert, info.HasAuthCert = pr[0] != 0, pr[1] != 0
		c.identified = true
		return nil
	})
	switch {
	case errors.Is(err, errNoAP):
		return card.Info{Kind: card.KindNotJPKI}, nil
	case err != nil:
		return card.Info{}, err
	}
	info.Kind = card.KindMyNumber
	if !info.HasSignCert {
		info.Kind = card.KindMyNumberNoSign
	}
	return info, nil
}

var errNoAP = errors.New("nextgen: no authentication AP")

// ready refuses every operation but Identify on a card that did not identify as
// the next generation; nothing is sent then.
func (c *Card) ready() error {
	if !c.identified {
		return ErrNotIdentified
	}
	return nil
}

// selectAP selects the authentication AP unless this Card knows it selected.
func (c *Card) selectAP() error {
	if c.selected {
		return nil
	}
	r, err := c.transmit(selectAP())
	if err != nil {
		return err
	}
	c.lost() // a select drops whatever was verified
	if err := r.Err(); err != nil {
		return fmt.Errorf("select the authentication AP: %w", err)
	}
	c.selected = true
	return nil
}

// selectEF selects an EF of the authentication AP.
func (c *Card) selectEF(fid uint16) error {
	if err := c.selectAP(); err != nil {
		return err
	}
	if c.curEF == fid {
		return nil
	}
	r, err := c.transmit(selectEF(fid))
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

// readEF reads exactly n bytes of fid from offset 0.
func (c *Card) readEF(fid uint16, n int) ([]byte, error) {
	if err := c.selectEF(fid); err != nil {
		return nil, err
	}
	return c.readAt(fid, nil, n)
}

// readAt appends to buf the bytes of the current EF fid from len(buf) until it
// holds n; a short chunk (a file shorter than its header says) is an error, so a
// hostile card cannot stretch one read into many.
func (c *Card) readAt(fid uint16, buf []byte, n int) ([]byte, error) {
	if n > card.MaxFileSize+1 {
		return nil, fmt.Errorf("EF %04X: length %d beyond the largest file a card can hold", fid, n)
	}
	for len(buf) < n {
		chunk := min(n-len(buf), 256)
		r, err := c.transmit(readBinary(len(buf), chunk))
		if err != nil {
			return nil, err
		}
		if err := r.Err(); err != nil {
			return nil, fmt.Errorf("read EF %04X at %d: %w", fid, len(buf), securityErr(err))
		}
		if len(r.Data) != chunk {
			return nil, fmt.Errorf("read EF %04X at %d: card returned %d of %d bytes", fid, len(buf), len(r.Data), chunk)
		}
		buf = append(buf, r.Data...)
	}
	return buf, nil
}

// securityErr turns 69 82 into card.ErrNotLoggedIn (wrapping the status word).
func securityErr(err error) error {
	if errors.Is(err, card.ErrSecurityStatus) {
		return fmt.Errorf("%w: %w", card.ErrNotLoggedIn, err)
	}
	return err
}

// file resolves a certificate name of card.Generation to its EF here.
func file(ef uint16) (uint16, error) {
	fid, ok := certFile(ef)
	if !ok {
		return 0, fmt.Errorf("nextgen: EF %04X is not a certificate of the card: %w", ef, card.ErrFileNotFound)
	}
	return fid, nil
}

// ReadHead reads the first n (1..256) bytes of a certificate, in one transaction.
func (c *Card) ReadHead(ef uint16, n int) ([]byte, error) {
	if n < 1 || n > 256 {
		return nil, fmt.Errorf("read head of EF %04X: %d bytes (1 to 256 allowed)", ef, n)
	}
	fid, err := file(ef)
	if err != nil {
		return nil, err
	}
	if err := c.ready(); err != nil {
		return nil, err
	}
	var out []byte
	err = c.do(func() error {
		b, err := c.readEF(fid, n)
		if err != nil {
			return err
		}
		out, c.heads[fid] = b, slices.Clone(b)
		return nil
	})
	return out, err
}

// ReadFile reads a whole DER certificate: its first 256 bytes (or the head a
// ReadHead kept), the length from the DER header, then the rest.
func (c *Card) ReadFile(ef uint16) ([]byte, error) {
	fid, err := file(ef)
	if err != nil {
		return nil, err
	}
	if err := c.ready(); err != nil {
		return nil, err
	}
	var out []byte
	err = c.do(func() error {
		head := slices.Clone(c.heads[fid])
		fresh := len(head) < 7
		if fresh {
			// a short EF answers what it has: ask up to 256 and accept less
			if err := c.selectEF(fid); err != nil {
				return err
			}
			r, err := c.transmit(readBinary(0, 256))
			if err != nil {
				return err
			}
			if err := r.Err(); err != nil {
				return fmt.Errorf("read EF %04X header: %w", fid, securityErr(err))
			}
			if len(r.Data) > 256 {
				return fmt.Errorf("read EF %04X: card returned %d bytes for Le 256", fid, len(r.Data))
			}
			head = r.Data
		} else if err := c.selectEF(fid); err != nil {
			return err
		}
		total, err := card.DERLength(head)
		if err != nil {
			return fmt.Errorf("EF %04X: %w", fid, err)
		}
		switch {
		case len(head) > total:
			head = head[:total]
		case fresh && len(head) < total && len(head) < 256:
			// a card answers what is left of the file: it is shorter than its header says
			return fmt.Errorf("read EF %04X: card returned %d of 256 bytes of a %d-byte file", fid, len(head), total)
		}
		out, err = c.readAt(fid, head, total)
		return err
	})
	return out, err
}

// TriesLeft asks how many PIN tries remain for k (VERIFY without data: no try
// spent). A blocked PIN gives 0 and no error.
func (c *Card) TriesLeft(k card.Key) (int, error) {
	if err := c.ready(); err != nil {
		return 0, err
	}
	n := 0
	err := c.do(func() error {
		if err := c.selectAP(); err != nil {
			return err
		}
		r, err := c.transmit(verify(PINRef(k), nil))
		if err != nil {
			return err
		}
		se := card.StatusError(r.SW)
		switch t, ok := se.TriesLeft(); {
		case r.SW == 0x9000:
			n = k.MaxTries()
		case ok:
			n = t
		case se == card.ErrRefDataBlocked || se == card.ErrAuthBlocked:
			n = 0
		default:
			return fmt.Errorf("tries left for the %v PIN: %w", k, se)
		}
		return nil
	})
	return n, err
}

// Verify checks the PIN of k once. The PIN must pass card.CheckPIN (nothing is
// sent otherwise); a wrong PIN matches card.ErrWrongPIN with the tries left, a
// blocked one card.ErrPINBlocked.
func (c *Card) Verify(k card.Key, pin []byte) error {
	p, err := card.CheckPIN(k, pin)
	if err != nil {
		return err
	}
	defer card.Wipe(p)
	if err := c.ready(); err != nil {
		return err
	}
	return c.do(func() error { return c.verify(k, p) })
}

func (c *Card) verify(k card.Key, p []byte) error {
	if err := c.selectAP(); err != nil {
		return err
	}
	c.verified[k] = false
	r, err := c.transmit(verify(PINRef(k), p))
	if err != nil {
		return err
	}
	if err := card.PINAnswer(k, "verify", r); err != nil {
		return err
	}
	c.verified[k] = true
	return nil
}

// ChangePIN verifies oldPIN and sets newPIN for k in one transaction; both pass
// card.CheckPIN first.
func (c *Card) ChangePIN(k card.Key, oldPIN, newPIN []byte) error {
	o, err := card.CheckPIN(k, oldPIN)
	if err != nil {
		return err
	}
	defer card.Wipe(o)
	n, err := card.CheckPIN(k, newPIN)
	if err != nil {
		return fmt.Errorf("new PIN: %w", err)
	}
	defer card.Wipe(n)
	if err := c.ready(); err != nil {
		return err
	}
	return c.do(func() error {
		if err := c.verify(k, o); err != nil {
			return err
		}
		r, err := c.transmit(changePIN(PINRef(k), n))
		if err != nil {
			return err
		}
		return card.PINAnswer(k, "change", r)
	})
}

// Logout forgets k's verification; when no PIN stays verified the AP is
// selected again, which makes the card drop its security state.
func (c *Card) Logout(k card.Key) error {
	c.verified[k] = false
	for _, v := range c.verified {
		if v {
			return nil
		}
	}
	if err := c.ready(); err != nil {
		return nil // nothing was ever verified on it
	}
	return c.do(func() error {
		c.selected = false
		return c.selectAP()
	})
}

// Sign signs a hash of 1 to card.MaxECDSAInput bytes with k (scheme
// card.SchemeECDSA) and returns r||s. It sends nothing and returns
// card.ErrNotLoggedIn when k's PIN is not verified in the current security state.
func (c *Card) Sign(k card.Key, scheme byte, input []byte) ([]byte, error) {
	if scheme != card.SchemeECDSA {
		return nil, fmt.Errorf("nextgen: signature scheme %02X: the next generation's keys sign with ECDSA only", scheme)
	}
	if len(input) == 0 || len(input) > card.MaxECDSAInput {
		return nil, fmt.Errorf("sign: a hash of %d bytes (1 to %d allowed)", len(input), card.MaxECDSAInput)
	}
	if err := c.ready(); err != nil {
		return nil, err
	}
	if !c.verified[k] {
		return nil, card.ErrNotLoggedIn
	}
	var sig []byte
	err := c.do(func() error {
		if !c.verified[k] { // lost at Begin (reset)
			return card.ErrNotLoggedIn
		}
		// The key is named in every transaction: another application may have
		// set another one in the security environment since.
		if c.keyRef != KeyRef(k) {
			r, err := c.transmit(setKey(KeyRef(k)))
			if err != nil {
				return err
			}
			if err := r.Err(); err != nil {
				c.keyRef = 0
				return fmt.Errorf("set the %v key: %w", k, err)
			}
			c.keyRef = KeyRef(k)
		}
		r, err := c.transmit(computeSignature(input))
		if err != nil {
			return err
		}
		if err := r.Err(); err != nil {
			if errors.Is(err, card.ErrSecurityStatus) {
				c.verified[k] = false
			}
			return fmt.Errorf("sign with the %v key: %w", k, securityErr(err))
		}
		if len(r.Data) != SignatureSize {
			return fmt.Errorf("sign with the %v key: the card answered %d bytes, not r||s of %d", k, len(r.Data), SignatureSize)
		}
		sig = r.Data
		return nil
	})
	return sig, err
}

// ProbeScheme answers without an APDU: the next generation's keys sign with
// card.SchemeECDSA and nothing else.
func (c *Card) ProbeScheme(k card.Key, scheme byte) (card.SchemeProbe, error) {
	if scheme == card.SchemeECDSA {
		return card.SchemeProbe{Supported: true, Conclusive: true, Reason: "the next generation signs with ECDSA P-384"}, nil
	}
	return card.SchemeProbe{Conclusive: true, Reason: fmt.Sprintf("the next generation signs with ECDSA P-384 only, not with scheme %02X", scheme)}, nil
}
