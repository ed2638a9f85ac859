package cli

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/jpki-pkcs11/jpki-pkcs11/card"
	"github.com/jpki-pkcs11/jpki-pkcs11/internal/cli/cardsigner"
	"github.com/jpki-pkcs11/jpki-pkcs11/internal/cli/certinfo"
)

// readerReport is one reader in 'jpki status' (text and JSON).
type readerReport struct {
	Index       int          `json:"index"`
	Reader      string       `json:"reader"`
	Card        string       `json:"card"` // empty, error, or card.Kind.Code(): not_jpki, my_number, my_number_no_sign, juki, android_phone, iphone, my_number_unknown_jpki
	Description string       `json:"description"`
	TokenLabel  string       `json:"token_label,omitempty"`
	Generation  string       `json:"generation,omitempty"` // the next generation: what speaks to it
	AuthTries   *int         `json:"auth_tries,omitempty"`
	SignTries   *int         `json:"sign_tries,omitempty"`
	Certs       []certReport `json:"certificates,omitempty"`
	AuthCert    string       `json:"authentication_certificate,omitempty"`
	SignCert    string       `json:"signature_certificate,omitempty"`
	Warnings    []string     `json:"warnings,omitempty"`
	Error       string       `json:"error,omitempty"`
}

// certReport is one certificate's facts.
type certReport struct {
	Role    string `json:"role"` // auth, auth_ca, sign, sign_ca
	Subject string `json:"subject"`
	Issuer  string `json:"issuer"`
	Serial  string `json:"serial"`
	certinfo.Validity
	Summary string `json:"summary"`
	cert    *x509.Certificate
}

var roleNames = map[string]string{
	"auth": "authentication certificate", "auth_ca": "authentication CA certificate",
	"sign": "signature certificate", "sign_ca": "signature CA certificate",
}

func (a *app) report(role string, der []byte) (certReport, error) {
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return certReport{}, fmt.Errorf("the %s on the card does not parse: %w", roleNames[role], err)
	}
	v := certinfo.ValidityOf(c, a.env.Now())
	sum := v.Summary()
	if strings.HasSuffix(role, "_ca") {
		sum = v.ExpirySummary()
	}
	return certReport{Role: role, Subject: c.Subject.String(), Issuer: c.Issuer.String(),
		Serial: c.SerialNumber.String(), Validity: v, Summary: sum, cert: c}, nil
}

func (a *app) status(args []string) error {
	pos, err := parseFlags(a.flags("status"), args, false)
	if err != nil {
		return err
	}
	if err := want("status", pos, 0, "no arguments"); err != nil {
		return err
	}
	rs, err := a.readers()
	if err != nil {
		return err
	}
	var reports []readerReport
	for i, r := range rs {
		if a.opt.reader != "" {
			if j, err := pickReader(rs, a.opt.reader); err != nil {
				return err
			} else if j != i {
				continue
			}
		}
		reports = append(reports, a.readerStatus(rs, i, r))
	}
	if a.opt.json {
		return writeJSON(a.env.Stdout, map[string]any{"readers": reports})
	}
	for _, r := range reports {
		printReport(a.env.Stdout, r)
	}
	return nil
}

// readerStatus reads everything available without a PIN from the card in reader i.
func (a *app) readerStatus(rs []card.ReaderStatus, i int, r card.ReaderStatus) readerReport {
	rep := readerReport{Index: i, Reader: r.Name}
	if !r.Present {
		rep.Card, rep.Description = "empty", "empty (no card)"
		return rep
	}
	s, err := a.connect(rs, i)
	if err != nil {
		rep.Card, rep.Description, rep.Error = "error", "card could not be read", explain(err)
		return rep
	}
	defer s.close()
	rep.Card, rep.Description, rep.TokenLabel = s.info.Kind.Code(), s.info.Kind.String(), s.info.TokenLabel
	switch s.info.Kind {
	case card.KindNotJPKI:
		rep.Description = "not a JPKI card (no My Number Card application)"
		return rep
	case card.KindUnknownJPKI:
		rep.Warnings = append(rep.Warnings, unknownJPKI(s.info)+"; 'jpki diagnose' writes a report of what the card answers, safe to attach to a bug report")
		return rep
	case card.KindIPhone:
		rep.Warnings = append(rep.Warnings, card.IPhoneNotSupported)
		return rep
	}
	if s.c.Algorithm() != card.RSA2048 {
		rep.Generation = nextGeneration(s.c)
	}
	a.prog.start("reading the card in " + r.Name)
	defer a.prog.stop()
	for _, k := range []card.Key{card.AuthKey, card.SignKey} {
		n, err := s.c.TriesLeft(k)
		switch {
		case err == nil:
			n := n
			if k == card.AuthKey {
				rep.AuthTries = &n
			} else {
				rep.SignTries = &n
			}
		case k == card.SignKey && errors.Is(err, card.ErrFileNotFound):
			// no signature password on this card
		default:
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("%s tries: %s", pinName(k), explain(err)))
		}
	}
	if s.info.AuthCertNeedsPIN && s.info.HasAuthCert {
		rep.AuthCert = "present; on a smartphone it is readable only after the authentication PIN ('jpki certs' asks it)"
	}
	files := []struct {
		role string
		ef   uint16
		skip bool
	}{
		{"auth", card.EFAuthCert, !s.info.HasAuthCert || s.info.AuthCertNeedsPIN},
		{"sign", card.EFSignCert, !s.info.HasSignCert},
		{"auth_ca", card.EFAuthCACert, false},
		{"sign_ca", card.EFSignCACert, !s.info.HasSignCert},
	}
	var auth, sign *x509.Certificate
	for _, f := range files {
		if f.skip {
			continue
		}
		der, err := s.c.ReadFile(f.ef)
		switch {
		case err == nil:
		case f.role == "sign" && errors.Is(err, card.ErrNotLoggedIn):
			rep.SignCert = "present; its dates are readable only after the signature password ('jpki certs --sign' or 'jpki holder' shows them)"
			continue
		case errors.Is(err, card.ErrFileNotFound):
			continue
		default:
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("%s: %s", roleNames[f.role], explain(err)))
			continue
		}
		cr, err := a.report(f.role, der)
		if err != nil {
			rep.Warnings = append(rep.Warnings, err.Error())
			continue
		}
		if k, holder := map[string]card.Key{"auth": card.AuthKey, "sign": card.SignKey}[f.role]; holder {
			if _, err := cardsigner.New(s.c, k, cr.cert.PublicKey); err != nil {
				rep.Warnings = append(rep.Warnings, explain(err))
			}
		}
		rep.Certs = append(rep.Certs, cr)
		switch f.role {
		case "auth":
			auth = cr.cert
		case "sign":
			sign = cr.cert
		}
	}
	if !s.info.HasSignCert {
		rep.SignCert = "none on this card (no signature certificate is issued to holders under 15)"
		if s.info.Kind == card.KindJuki {
			rep.SignCert = "none usable (Juki card)"
		}
	}
	if s.info.Kind == card.KindJuki {
		rep.Warnings = append(rep.Warnings, "Juki cards get no new certificates (none issued since 2015-12-22): apply for a My Number Card at your municipal office")
	}
	if certinfo.SignOutlivesAuth(sign, auth) {
		rep.Warnings = append(rep.Warnings, outlivesWarning(sign, auth))
	}
	return rep
}

func outlivesWarning(sign, auth *x509.Certificate) string {
	return fmt.Sprintf("the signature certificate (to %s) outlives the authentication certificate (to %s): the service's rules cap it at the authentication certificate's expiry; ask your municipal office",
		sign.NotAfter.In(certinfo.JST).Format("2006-01-02"), auth.NotAfter.In(certinfo.JST).Format("2006-01-02"))
}

func printReport(w io.Writer, r readerReport) {
	fmt.Fprintf(w, "Reader %d: %s\n", r.Index, r.Reader)
	fmt.Fprintf(w, "  card: %s\n", r.Description)
	if r.Generation != "" {
		fmt.Fprintf(w, "  generation: %s\n", r.Generation)
	}
	if r.Error != "" {
		fmt.Fprintf(w, "  error: %s\n", r.Error)
	}
	if r.AuthTries != nil {
		fmt.Fprintf(w, "  authentication PIN: %s\n", triesText(*r.AuthTries, card.AuthKey))
	}
	if r.SignTries != nil {
		fmt.Fprintf(w, "  signature password: %s\n", triesText(*r.SignTries, card.SignKey))
	}
	for _, c := range r.Certs {
		fmt.Fprintf(w, "  %s: %s\n    %s\n", roleNames[c.Role], c.Subject, c.Summary)
	}
	if r.AuthCert != "" {
		fmt.Fprintf(w, "  authentication certificate: %s\n", r.AuthCert)
	}
	if r.SignCert != "" {
		fmt.Fprintf(w, "  signature certificate: %s\n", r.SignCert)
	}
	for _, m := range r.Warnings {
		fmt.Fprintf(w, "  warning: %s\n", m)
	}
}

func triesText(n int, k card.Key) string {
	switch {
	case n == 0:
		return "BLOCKED: only your municipal office can reset it"
	case n == 1:
		return "1 try left (a wrong PIN blocks it)"
	case n < k.MaxTries():
		return fmt.Sprintf("%d tries left of %d (a correct PIN resets the count)", n, k.MaxTries())
	}
	return fmt.Sprintf("%d tries left", n)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
