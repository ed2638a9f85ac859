package cli

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"

	"github.com/jpki-pkcs11/jpki-pkcs11/card"
	"github.com/jpki-pkcs11/jpki-pkcs11/internal/cli/certinfo"
)

// certFile is one certificate read from the card.
type certFile struct {
	role    string
	name    string // file name without extension
	der     []byte
	private bool // holds personal data (the signature certificate)
}

// readCerts reads the certificates readable without a PIN, and with sign also
// the signature certificate (after the signature password).
func (a *app) readCerts(s *session, sign bool) ([]certFile, error) {
	list := []certFile{{role: "auth", name: "auth"}, {role: "auth_ca", name: "auth-ca"}, {role: "sign_ca", name: "sign-ca"}}
	efs := map[string]uint16{"auth": card.EFAuthCert, "auth_ca": card.EFAuthCACert, "sign_ca": card.EFSignCACert, "sign": card.EFSignCert}
	if !s.info.HasSignCert {
		list = list[:2]
	}
	if sign {
		if err := needKey(s, card.SignKey); err != nil {
			return nil, err
		}
	}
	if s.info.AuthCertNeedsPIN {
		// a smartphone shows its authentication certificate only after the PIN
		if err := a.login(s.c, card.AuthKey); err != nil {
			return nil, err
		}
	}
	if sign {
		if err := a.login(s.c, card.SignKey); err != nil {
			return nil, err
		}
		list = append(list, certFile{role: "sign", name: "sign", private: true})
	}
	a.prog.start("reading the certificates")
	defer a.prog.stop()
	var out []certFile
	for _, f := range list {
		der, err := s.c.ReadFile(efs[f.role])
		if err != nil {
			return nil, fmt.Errorf("reading the %s: %w", roleNames[f.role], err)
		}
		f.der = der
		out = append(out, f)
	}
	return out, nil
}

func (a *app) certs(args []string) error {
	fs := a.flags("certs")
	asPEM := fs.Bool("pem", false, "PEM files (the default)")
	asDER := fs.Bool("der", false, "DER files")
	out := fs.String("out", "", "folder to write the files into")
	sign := fs.Bool("sign", false, "also the signature certificate (asks the signature password)")
	pos, err := parseFlags(fs, args, false)
	if err != nil {
		return err
	}
	if err := want("certs", pos, 0, "no arguments"); err != nil {
		return err
	}
	if *asPEM && *asDER {
		return usagef("certs: --pem and --der exclude each other")
	}
	if *asDER && *out == "" {
		return usagef("certs: --der needs --out DIR (binary files are not written to the terminal)")
	}
	s, err := a.open()
	if err != nil {
		return err
	}
	defer s.close()
	files, err := a.readCerts(s, *sign)
	if err != nil {
		return err
	}
	var reports []certReport
	var auth, signCert *x509.Certificate
	for _, f := range files {
		r, err := a.report(f.role, f.der)
		if err != nil {
			return err
		}
		reports = append(reports, r)
		switch f.role {
		case "auth":
			auth = r.cert
		case "sign":
			signCert = r.cert
		}
	}
	var warnings []string
	if certinfo.SignOutlivesAuth(signCert, auth) {
		warnings = append(warnings, outlivesWarning(signCert, auth))
	}
	if *out == "" && a.opt.json {
		type entry struct {
			PEM string `json:"pem"`
			certReport
		}
		var es []entry
		for i, f := range files {
			es = append(es, entry{string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.der})), reports[i]})
		}
		return writeJSON(a.env.Stdout, map[string]any{"certificates": es, "warnings": warnings})
	}
	if *out == "" {
		for _, f := range files {
			fmt.Fprintf(a.env.Stdout, "# %s\n", roleNames[f.role])
			if err := pem.Encode(a.env.Stdout, &pem.Block{Type: "CERTIFICATE", Bytes: f.der}); err != nil {
				return err
			}
		}
		for _, w := range warnings {
			fmt.Fprintf(a.env.Stderr, "warning: %s\n", w)
		}
		return nil
	}
	written, err := writeCerts(*out, files, *asDER)
	if err != nil {
		return err
	}
	if a.opt.json {
		type entry struct {
			File string `json:"file"`
			certReport
		}
		var es []entry
		for i := range files {
			es = append(es, entry{written[i], reports[i]})
		}
		return writeJSON(a.env.Stdout, map[string]any{"certificates": es, "warnings": warnings})
	}
	for i, f := range files {
		fmt.Fprintf(a.env.Stdout, "%s: %s\n  %s\n  %s\n", roleNames[f.role], written[i], reports[i].Subject, reports[i].Summary)
	}
	for _, w := range warnings {
		fmt.Fprintf(a.env.Stdout, "warning: %s\n", w)
	}
	return nil
}

// writeCerts writes the files into dir; the signature certificate (personal data)
// is readable by its owner only.
func writeCerts(dir string, files []certFile, der bool) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var out []string
	for _, f := range files {
		ext, data := ".pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.der})
		if der {
			ext, data = ".der", f.der
		}
		mode := os.FileMode(0o644)
		if f.private {
			mode = 0o600
		}
		p := filepath.Join(dir, f.name+ext)
		if err := os.WriteFile(p, data, mode); err != nil {
			return nil, err
		}
		if err := os.Chmod(p, mode); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func (a *app) holder(args []string) error {
	pos, err := parseFlags(a.flags("holder"), args, false)
	if err != nil {
		return err
	}
	if err := want("holder", pos, 0, "no arguments"); err != nil {
		return err
	}
	s, err := a.open()
	if err != nil {
		return err
	}
	defer s.close()
	if err := needKey(s, card.SignKey); err != nil {
		return err
	}
	if err := a.login(s.c, card.SignKey); err != nil {
		return err
	}
	a.prog.start("reading the signature certificate")
	der, err := s.c.ReadFile(card.EFSignCert)
	a.prog.stop()
	if err != nil {
		return fmt.Errorf("reading the signature certificate: %w", err)
	}
	r, err := a.report("sign", der)
	if err != nil {
		return err
	}
	h, err := certinfo.HolderOf(r.cert)
	if err != nil {
		return fmt.Errorf("the signature certificate's holder attributes: %w", err)
	}
	var warnings []string
	// (a smartphone's authentication certificate needs its own PIN: not asked here)
	if !s.info.AuthCertNeedsPIN {
		if ad, err := s.c.ReadFile(card.EFAuthCert); err == nil {
			if ac, err := x509.ParseCertificate(ad); err == nil && certinfo.SignOutlivesAuth(r.cert, ac) {
				warnings = append(warnings, outlivesWarning(r.cert, ac))
			}
		}
	}
	if a.opt.json {
		return writeJSON(a.env.Stdout, map[string]any{"holder": h, "signature_certificate": r, "warnings": warnings})
	}
	defer func() {
		for _, m := range warnings {
			fmt.Fprintf(a.env.Stdout, "warning: %s\n", m)
		}
	}()
	if h.Empty() {
		fmt.Fprintln(a.env.Stdout, "the signature certificate carries no holder attributes")
	}
	w := a.env.Stdout
	line := func(label, v string) {
		if v != "" {
			fmt.Fprintf(w, "%-26s %s\n", label+":", v)
		}
	}
	line("name", h.Name)
	line("name (alternative form)", h.NameAlt)
	birth := h.Birth
	if h.BirthEra != "" {
		birth += " (" + h.BirthEra + " era)"
	}
	line("birth date", birth)
	line("sex", h.Sex)
	line("address", h.Address)
	line("address (alternative form)", h.AddressAlt)
	line("signature certificate", r.Summary)
	return nil
}
