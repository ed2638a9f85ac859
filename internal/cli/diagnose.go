package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/jpki-pkcs11/jpki-pkcs11/card"
	"github.com/jpki-pkcs11/jpki-pkcs11/card/nextgen"
)

// diagnose runs card.Diagnose on one card and writes the report: what the card
// answers to a fixed, harmless sequence (no PIN, no try spent, nothing signed),
// with every certificate body and personal field removed, to attach to a bug
// report.
func (a *app) diagnose(args []string) error {
	fs := a.flags("diagnose")
	out := fs.String("out", "", "write the report to FILE (default: standard output)")
	pos, err := parseFlags(fs, args, false)
	if err != nil {
		return err
	}
	if err := want("diagnose", pos, 0, "no arguments (--reader N, --out FILE)"); err != nil {
		return err
	}
	rs, err := a.readers()
	if err != nil {
		return err
	}
	i, err := a.diagnoseReader(rs)
	if err != nil {
		return err
	}
	sys, err := a.system()
	if err != nil {
		return err
	}
	t, err := sys.Connect(rs[i].Name)
	if err != nil {
		return fmt.Errorf("reader %d (%s): %w", i, rs[i].Name, err)
	}
	a.prog.start("asking the card in " + rs[i].Name)
	d := card.Diagnose(t, nextgen.Generation)
	a.prog.stop()
	t.Close()
	var rep bytes.Buffer
	if err := writeDiagnosis(&rep, rs[i], d, a.env.Now()); err != nil {
		return err
	}
	if *out == "" {
		_, err := a.env.Stdout.Write(rep.Bytes())
		return err
	}
	if err := os.WriteFile(*out, rep.Bytes(), 0o644); err != nil {
		return err
	}
	if a.opt.json {
		return writeJSON(a.env.Stdout, map[string]any{"report": *out, "reader": rs[i].Name,
			"card": kindOf(d), "exchanges": len(d.Exchanges)})
	}
	fmt.Fprintf(a.env.Stdout, "report written to %s (%s; %d commands, no PIN sent, nothing signed)\n"+
		"It holds no certificate body, name, address, birth date or serial number: attach it to your bug report.\n",
		*out, describeKind(d), len(d.Exchanges))
	return nil
}

// diagnoseReader picks the reader: --reader, or the only one holding a card
// (a card of any kind: diagnose is for the cards the other commands refuse).
func (a *app) diagnoseReader(rs []card.ReaderStatus) (int, error) {
	if a.opt.reader != "" {
		i, err := pickReader(rs, a.opt.reader)
		if err != nil {
			return 0, err
		}
		if !rs[i].Present {
			return 0, fmt.Errorf("reader %d (%s): %w", i, rs[i].Name, card.ErrNoCard)
		}
		return i, nil
	}
	var present []int
	for i, r := range rs {
		if r.Present {
			present = append(present, i)
		}
	}
	switch len(present) {
	case 0:
		return 0, fmt.Errorf("%w (readers: %s)", card.ErrNoCard, readerNames(rs))
	case 1:
		return present[0], nil
	}
	return 0, usagef("%d readers hold a card: choose one with --reader N (%s)", len(present), readerNames(rs))
}

func kindOf(d card.Diagnosis) string {
	if d.IdentifyErr != nil {
		return "error"
	}
	return d.Info.Kind.Code()
}

func describeKind(d card.Diagnosis) string {
	if d.IdentifyErr != nil {
		return "identification failed: " + d.IdentifyErr.Error()
	}
	return d.Info.Kind.String()
}

// writeDiagnosis writes the report: the findings in words, then the transcript
// (card.WriteTranscript), which card.ParseTranscript reads back.
func writeDiagnosis(w io.Writer, r card.ReaderStatus, d card.Diagnosis, now time.Time) error {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p("jpki diagnose report (format 1)")
	p("The card's answers to a fixed sequence of harmless commands: no PIN was sent, no PIN try spent,")
	p("nothing signed. Certificate bodies, personal fields (name, address, birth date) and serial")
	p("numbers were removed before this was written: it is safe to attach to a bug report.")
	p("")
	p("date:    %s", now.UTC().Format("2006-01-02"))
	p("reader:  %s", r.Name)
	p("ATR:     % X", r.ATR)
	p("card:    %s (%s)", describeKind(d), kindOf(d))
	if d.Info.Kind == card.KindIPhone {
		p("         %s", card.IPhoneNotSupported)
	}
	if d.Info.OtherAP != nil {
		p("         application that answered: % X (the JPKI AP % X did not)", d.Info.OtherAP, card.AID)
	}
	if d.Info.Reason != "" {
		p("         %s: %s", card.NotYetSupported, d.Info.Reason)
	}
	if d.Generation != 0 {
		p("generation: next (%v keys), identified by the commands this version assumes for it (the virtual", d.Generation)
		p("         next-generation card); the report stops after its identification")
	}
	if ti := d.Info.Token; ti.Length > 0 {
		p("")
		p("token info (EF 0006, %d bytes read):", ti.Length)
		p("  label:         %s", ti.Label)
		p("  manufacturer:  %s", ti.Manufacturer)
		p("  model:         %s", ti.Model)
		p("  serial:        %s", serialShape(ti.Serial))
		if ti.HasFields {
			p("  flags:         %08X", ti.Flags)
			p("  PIN length:    %d to %d", ti.MinPINLen, ti.MaxPINLen)
			p("  versions:      hardware % X, firmware % X", ti.HardwareVersion, ti.FirmwareVersion)
		}
	}
	if d.IdentifyErr == nil && d.Info.Kind != card.KindNotJPKI && d.Info.Kind != card.KindUnknownJPKI && d.Generation == 0 {
		p("")
		switch {
		case d.Info.Presence == nil:
			p("presence (EF 0008): missing")
		default:
			note := ""
			if card.PresenceUnexplained(d.Info.Presence) {
				note = " (a value other than 00 / 8F: taken as present)"
			}
			p("presence (EF 0008): % X: signature certificate %s, authentication certificate %s%s",
				d.Info.Presence, present(d.Info.HasSignCert), present(d.Info.HasAuthCert), note)
		}
		if d.Info.AuthCertNeedsPIN {
			p("the authentication certificate is readable only after the authentication PIN (a smartphone)")
		}
	}
	if len(d.Files) > 0 {
		p("")
		p("certificate files, without a PIN (the head only):")
		for _, f := range d.Files {
			p("  %-30s EF %04X: %s", f.Name, f.EF, fileResult(f))
		}
	}
	if d.AuthTries.Asked || d.SignTries.Asked {
		p("")
		p("PIN tries (the tries query: VERIFY without a PIN, no try spent):")
		for _, t := range []struct {
			name string
			p    card.TriesProbe
		}{{"authentication PIN", d.AuthTries}, {"signature password", d.SignTries}} {
			if t.p.Asked {
				p("  %-20s %s", t.name+":", triesResult(t.p))
			}
		}
	}
	if d.PSSAsked || d.AuthKeyByShortEF.Asked {
		p("")
		p("addressing and signature schemes (signature commands without data: nothing signed):")
		p("  short-EF READ BINARY (P1 80|SFI): %s", d.Addressing.ShortEFRead)
		for _, k := range []struct {
			name string
			p    card.AddressProbe
		}{{"authentication key by short EF (P2 97)", d.AuthKeyByShortEF}, {"signature key by short EF (P2 9A)", d.SignKeyByShortEF}} {
			if k.p.Asked {
				p("  %s: %s (%s)", k.name, k.p.Verdict, k.p.Reason)
			}
		}
		if d.PSSAsked {
			switch {
			case d.PSSErr != nil:
				p("  RSASSA-PSS (P1 04): probe failed: %v", d.PSSErr)
			default:
				verdict := "not offered"
				if d.PSS.Supported {
					verdict = "offered"
				}
				p("  RSASSA-PSS (P1 04): %s; conclusive %v; control P1 %02X answered %04X, P1 04 answered %04X: %s",
					verdict, d.PSS.Conclusive, card.SchemeControlP1, d.PSS.ControlSW, d.PSS.SchemeSW, d.PSS.Reason)
			}
		}
	}
	p("")
	p("timing: %s", timing(d.Exchanges))
	p("")
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	return card.WriteTranscript(w, d.Exchanges)
}

func present(b bool) string {
	if b {
		return "present"
	}
	return "absent"
}

// serialShape describes the token-info serial without giving it.
func serialShape(s string) string {
	switch {
	case s == "":
		return "(empty)"
	case strings.Trim(s, "0") == "":
		return fmt.Sprintf("all zeros (%d characters)", len(s))
	}
	kind := "digits only"
	if strings.Trim(s, "0123456789") != "" {
		kind = "not only digits"
	}
	return fmt.Sprintf("[removed: %d characters, %s]", len(s), kind)
}

func fileResult(f card.FileProbe) string {
	switch {
	case f.Err == nil:
		return fmt.Sprintf("readable, %d bytes (SW %04X)", f.Length, f.SW)
	case errors.Is(f.Err, card.ErrNotLoggedIn):
		return fmt.Sprintf("needs the PIN (SW %04X)", f.SW)
	case errors.Is(f.Err, card.ErrFileNotFound):
		return fmt.Sprintf("missing (SW %04X)", f.SW)
	}
	return fmt.Sprintf("error: %v", f.Err)
}

func triesResult(t card.TriesProbe) string {
	if t.Err != nil {
		return fmt.Sprintf("error: %v", t.Err)
	}
	return fmt.Sprintf("%d (SW %04X)", t.N, t.SW)
}

// timing summarises the round trips of the exchanges.
func timing(ex []card.Exchange) string {
	if len(ex) == 0 {
		return "no command sent"
	}
	var all []time.Duration
	var total time.Duration
	slowest := 0
	for i, e := range ex {
		all = append(all, e.Took)
		total += e.Took
		if e.Took > ex[slowest].Took {
			slowest = i
		}
	}
	slices.Sort(all)
	ms := func(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d.Microseconds())/1000) }
	return fmt.Sprintf("%d commands, %s in all, median %s, slowest %s (exchange %d); each exchange's time is in the transcript",
		len(ex), ms(total), ms(all[len(all)/2]), ms(ex[slowest].Took), slowest+1)
}
