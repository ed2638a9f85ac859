// Diagnosis: a fixed, harmless sequence of commands that shows what a card does,
// recorded with personal data removed (jpki diagnose writes it as a report).

package card

import (
	"errors"
	"fmt"
)

// FileProbe is what reading the first bytes of one file without a PIN showed.
type FileProbe struct {
	EF     uint16
	Name   string
	Length int    // the DER length its header gives (0 when not read)
	SW     uint16 // the status word of the last command (0: transport error)
	Err    error  // nil when the head was read
}

// TriesProbe is the answer to a tries query.
type TriesProbe struct {
	Asked bool
	N     int
	SW    uint16 // the answer to the tries query
	Err   error
}

// AddressProbe is the answer to a signature command without data that names the
// key by its short EF (P2 = 80|SFI) and uses the plain scheme (P1 00).
type AddressProbe struct {
	Asked   bool
	SW      uint16
	Verdict Verdict // accepted: the card took the key reference and refused the missing data or PIN
	Reason  string
}

// Diagnosis is what Diagnose found. Errors are the card layer's own.
type Diagnosis struct {
	Info        Info
	IdentifyErr error
	// AuthCertHead is the module's read of the authentication certificate's
	// head (its serial number names the token); not read when the card
	// protects the certificate with the PIN or shows no token.
	AuthCertHead         FileProbe
	AuthTries, SignTries TriesProbe
	PSS                  SchemeProbe
	PSSErr               error
	PSSAsked             bool
	Files                []FileProbe
	AuthKeyByShortEF     AddressProbe
	SignKeyByShortEF     AddressProbe
	Addressing           Addressing
	Exchanges            []Exchange
	// Generation is the algorithm of the card generation that identified a
	// card without the JPKI AP (Diagnose's next); 0 for today's JPKI application.
	Generation Algorithm
}

// TokenKinds reports whether the module shows tokens for cards of kind k.
func TokenKinds(k Kind) bool {
	return k == KindMyNumber || k == KindMyNumberNoSign || k == KindAndroid
}

// Diagnose runs the diagnosis sequence over t and records it. It sends no PIN,
// spends no try and signs nothing: every command is a SELECT, a READ BINARY, a
// VERIFY without data (the tries query) or a signature command without data.
//
// The sequence starts with what the module itself does with a new card, in the
// same order, so that the transcript replays through the module's
// identification: Identify and the head of the authentication certificate (in
// one transaction), the tries of the authentication PIN and, on a card with a
// signature certificate, of the signature password, the RSASSA-PSS probe on the
// authentication key. Then it reads the head of each certificate file the module
// has not read (their readability without a PIN) and asks, with a signature
// command without data, whether the card takes the keys named by short EF. On a
// card without the JPKI AP (or an iPhone) it stops after identification.
//
// A card with neither the JPKI AP nor the card-face APs (KindNotJPKI) is then
// asked by each of next whether it identifies as that generation, as card.Open
// does for the module, so that the transcript replays through the module's
// identification; the diagnosis stops there (Generation and Info say what was
// found). The recorder knows today's files only: the data a next generation
// reads from its own files is removed from the transcript.
func Diagnose(t Transport, next ...func(Transport) Generation) (d Diagnosis) {
	rec := NewRecorder(t)
	c := New(rec)
	defer func() {
		d.Addressing = c.Addressing()
		d.Exchanges = rec.Exchanges()
	}()
	tokens := false
	c.Batch(func() {
		d.Info, d.IdentifyErr = c.Identify()
		if d.IdentifyErr != nil {
			return
		}
		tokens = TokenKinds(d.Info.Kind)
		if tokens && !d.Info.AuthCertNeedsPIN {
			n := rec.count()
			d.AuthCertHead = c.probeHead(EFAuthCert, 255)
			d.AuthCertHead.SW = swSince(rec, n)
		}
	})
	if d.IdentifyErr == nil && d.Info.Kind == KindNotJPKI && len(next) > 0 {
		var g Generation
		g, d.Info, d.IdentifyErr = identifyNext(rec, next)
		if g != nil {
			d.Generation = g.Algorithm()
		}
		return d
	}
	if d.IdentifyErr != nil || d.Info.Kind == KindNotJPKI || d.Info.Kind == KindUnknownJPKI || d.Info.Kind == KindIPhone {
		return d
	}
	tries := func(k Key) TriesProbe {
		before := rec.count()
		n, err := c.TriesLeft(k)
		return TriesProbe{Asked: true, N: n, SW: swSince(rec, before), Err: err}
	}
	d.AuthTries = tries(AuthKey)
	if d.Info.HasSignCert || !tokens {
		d.SignTries = tries(SignKey)
	}
	if tokens {
		d.PSSAsked = true
		d.PSS, d.PSSErr = c.ProbeScheme(AuthKey, SchemePSSSHA256)
	}
	for _, f := range []struct {
		ef   uint16
		name string
	}{{EFAuthCert, "authentication certificate"}, {EFAuthCACert, "authentication CA certificate"},
		{EFSignCert, "signature certificate"}, {EFSignCACert, "signature CA certificate"}} {
		if f.ef == EFAuthCert && d.AuthCertHead.EF != 0 {
			p := d.AuthCertHead
			p.Name = f.name
			d.Files = append(d.Files, p)
			continue
		}
		before := rec.count()
		p := c.probeHead(f.ef, 4)
		p.Name, p.SW = f.name, swSince(rec, before)
		d.Files = append(d.Files, p)
	}
	d.AuthKeyByShortEF = c.probeKeyByShortEF(AuthKey)
	if d.Info.HasSignCert || d.Info.Kind == KindJuki {
		d.SignKeyByShortEF = c.probeKeyByShortEF(SignKey)
	}
	return d
}

// probeHead reads the first n bytes of ef and the DER length they give.
func (c *Card) probeHead(ef uint16, n int) FileProbe {
	p := FileProbe{EF: ef}
	head, err := c.ReadHead(ef, n)
	if err != nil {
		p.Err = err
		return p
	}
	if l, err := DERLength(head); err == nil {
		p.Length = l
	} else {
		p.Err = fmt.Errorf("EF %04X: %w", ef, err)
	}
	return p
}

// swSince is the status word of the last exchange rec recorded after its first
// n exchanges (0 when there is none, or it was a transport error).
func swSince(rec *Recorder, n int) uint16 {
	ex := rec.Exchanges()
	if len(ex) <= n {
		return 0
	}
	return ex[len(ex)-1].SW()
}

// count is the number of exchanges recorded so far.
func (r *Recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.ex)
}

// probeKeyByShortEF sends the signature command without data naming k's key by
// its short EF (80 2A 00 80|SFI): nothing to sign, no PIN sent.
func (c *Card) probeKeyByShortEF(k Key) AddressProbe {
	p := AddressProbe{Asked: true}
	err := c.Do(func() error {
		if err := c.selectAP(); err != nil {
			return err
		}
		r, err := c.transmit(Command{CLA: 0x80, INS: 0x2A, P1: SchemePKCS1, P2: 0x80 | byte(k.KeyFile())})
		if err != nil {
			return err
		}
		c.curEF = 0 // what the card selected is not known
		p.SW = r.SW
		switch {
		case p1Accepted(r.SW):
			p.Verdict = VerdictAccepted
			p.Reason = fmt.Sprintf("the card took the key reference %02X, then refused the missing data or PIN with %04X", 0x80|byte(k.KeyFile()), r.SW)
		case r.SW == uint16(ErrIncorrectP1P2) || sfiRefused(r.SW) || r.SW == uint16(ErrFileNotFound):
			p.Verdict = VerdictRefused
			p.Reason = fmt.Sprintf("the card refused the key reference %02X with %04X", 0x80|byte(k.KeyFile()), r.SW)
		default:
			p.Reason = fmt.Sprintf("the answer %04X does not tell", r.SW)
		}
		return nil
	})
	if err != nil {
		p.Reason = err.Error()
		if errors.Is(err, ErrNoJPKI) {
			p.Reason = "no JPKI application"
		}
	}
	return p
}
