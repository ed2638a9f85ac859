package cli

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"time"

	"github.com/digitorus/pkcs7"

	"github.com/jpki-pkcs11/jpki-pkcs11/card"
	"github.com/jpki-pkcs11/jpki-pkcs11/internal/cli/cardsigner"
	"github.com/jpki-pkcs11/jpki-pkcs11/internal/cli/certinfo"
)

// signingKey is a logged-in card key with its certificate and CA certificate.
type signingKey struct {
	signer *cardsigner.Signer
	cert   *x509.Certificate
	ca     *x509.Certificate // nil when the CA certificate could not be read
}

// unlockKey checks the card can use k, refuses an expired certificate before any
// PIN is asked (when it is readable without one), verifies the PIN and reads the
// certificates.
func (a *app) unlockKey(s *session, k card.Key) (*signingKey, error) {
	if err := needKey(s, k); err != nil {
		return nil, err
	}
	readCert := func(ef uint16, what string) (*x509.Certificate, error) {
		a.prog.start("reading the " + what)
		der, err := s.c.ReadFile(ef)
		a.prog.stop()
		if err != nil {
			return nil, fmt.Errorf("reading the %s: %w", what, err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("the %s on the card does not parse: %w", what, err)
		}
		return c, nil
	}
	checkValid := func(c *x509.Certificate) error {
		if v := certinfo.ValidityOf(c, a.env.Now()); v.Expired || v.NotYetValid {
			return fmt.Errorf("the %v certificate cannot make valid signatures: %s; renew it at your municipal office", k, v.Summary())
		}
		return nil
	}
	var cert *x509.Certificate
	if k == card.AuthKey && !s.info.AuthCertNeedsPIN {
		// read before the PIN: an expired certificate is refused without asking it
		// (a smartphone shows the certificate only after the PIN)
		c, err := readCert(k.CertFile(), "authentication certificate")
		if err != nil {
			return nil, err
		}
		if err := checkValid(c); err != nil {
			return nil, err
		}
		if _, err := cardsigner.New(s.c, k, c.PublicKey); err != nil {
			return nil, err // before the PIN: a key this generation's commands cannot sign with
		}
		cert = c
	}
	if err := a.login(s.c, k); err != nil {
		return nil, err
	}
	if cert == nil {
		c, err := readCert(k.CertFile(), "signature certificate")
		if err != nil {
			return nil, err
		}
		if err := checkValid(c); err != nil {
			return nil, err
		}
		cert = c
	}
	ca, err := readCert(k.CACertFile(), "CA certificate")
	if err != nil {
		fmt.Fprintf(a.env.Stderr, "warning: %v; the signature will carry the signer certificate only\n", err)
		ca = nil
	}
	signer, err := cardsigner.New(s.c, k, cert.PublicKey)
	if err != nil {
		return nil, err
	}
	return &signingKey{signer: signer, cert: cert, ca: ca}, nil
}

func (a *app) sign(args []string) error {
	fs := a.flags("sign")
	keyName := fs.String("key", "sign", "auth or sign")
	detached := fs.Bool("detached", false, "signature without the content")
	out := fs.String("out", "", "signature file (default FILE.p7s detached, FILE.p7m otherwise)")
	pos, err := parseFlags(fs, args, false)
	if err != nil {
		return err
	}
	if err := want("sign", pos, 1, "one FILE"); err != nil {
		return err
	}
	k, err := parseKey(*keyName)
	if err != nil {
		return err
	}
	in := pos[0]
	data, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	if *out == "" {
		*out = in + ".p7m"
		if *detached {
			*out = in + ".p7s"
		}
	}
	s, err := a.open()
	if err != nil {
		return err
	}
	defer s.close()
	key, err := a.unlockKey(s, k)
	if err != nil {
		return err
	}
	a.prog.start("signing on the card")
	sig, err := signCMS(data, key, *detached)
	a.prog.stop()
	if err != nil {
		return fmt.Errorf("signing: %w", err)
	}
	if err := os.WriteFile(*out, sig, 0o644); err != nil {
		return err
	}
	if a.opt.json {
		return writeJSON(a.env.Stdout, map[string]any{"signature": *out, "file": in, "key": *keyName,
			"detached": *detached, "signer": key.cert.Subject.String()})
	}
	kind := "with the content inside"
	if *detached {
		kind = "detached"
	}
	fmt.Fprintf(a.env.Stdout, "signed %s with the %v key: %s (CMS/PKCS#7 DER, %s)\nsigner: %s\n", in, k, *out, kind, key.cert.Subject)
	return nil
}

// signCMS makes a CMS SignedData over data (signed attributes; SHA-256 with an
// RSA key, SHA-384 with the next generation's ECDSA P-384 key) with the signer
// certificate and its CA certificate.
func signCMS(data []byte, key *signingKey, detached bool) ([]byte, error) {
	sd, err := pkcs7.NewSignedData(data)
	if err != nil {
		return nil, err
	}
	sd.SetDigestAlgorithm(pkcs7.OIDDigestAlgorithmSHA256)
	if _, ec := key.signer.Public().(*ecdsa.PublicKey); ec {
		sd.SetDigestAlgorithm(pkcs7.OIDDigestAlgorithmSHA384)
	}
	if err := sd.AddSigner(key.cert, key.signer, pkcs7.SignerInfoConfig{}); err != nil {
		return nil, err
	}
	if key.ca != nil {
		sd.AddCertificate(key.ca)
	}
	if detached {
		sd.Detach()
	}
	return sd.Finish()
}

func (a *app) verify(args []string) error {
	fs := a.flags("verify")
	caFile := fs.String("ca", "", "trusted CA certificate(s), PEM or DER (default: the real JPKI roots)")
	pos, err := parseFlags(fs, args, false)
	if err != nil {
		return err
	}
	if len(pos) != 1 && len(pos) != 2 {
		return usagef("verify takes FILE SIG (or SIG alone when it holds the content)")
	}
	sigFile := pos[len(pos)-1]
	raw, err := os.ReadFile(sigFile)
	if err != nil {
		return err
	}
	if blk, _ := pem.Decode(raw); blk != nil {
		raw = blk.Bytes
	}
	p7, err := pkcs7.Parse(raw)
	if err != nil {
		return fmt.Errorf("%s is not a CMS/PKCS#7 signature: %w", sigFile, err)
	}
	if len(pos) == 2 {
		data, err := os.ReadFile(pos[0])
		if err != nil {
			return err
		}
		if len(p7.Content) == 0 {
			p7.Content = data
		} else if !bytes.Equal(p7.Content, data) {
			return fmt.Errorf("NOT VALID: %s holds other content than %s", sigFile, pos[0])
		}
	} else if len(p7.Content) == 0 {
		return usagef("%s is a detached signature: give the signed FILE too (jpki verify FILE SIG)", sigFile)
	}
	roots := certinfo.JPKIRoots()
	anchor := "the real JPKI root CAs"
	if *caFile != "" {
		cas, err := certinfo.LoadCerts(*caFile)
		if err != nil {
			return fmt.Errorf("--ca %s: %w", *caFile, err)
		}
		roots = x509.NewCertPool()
		for _, c := range cas {
			roots.AddCert(c)
		}
		anchor = *caFile
	}
	signer := p7.GetOnlySigner()
	if err := p7.Verify(); err != nil {
		return fmt.Errorf("NOT VALID: the signature does not match the content: %w", err)
	}
	if err := p7.VerifyWithChain(roots); err != nil {
		return fmt.Errorf("the signature matches the content, but the signer's certificate does not chain to %s: %w", anchor, err)
	}
	var at time.Time
	_ = p7.UnmarshalSignedAttribute(pkcs7.OIDAttributeSigningTime, &at)
	if a.opt.json {
		res := map[string]any{"valid": true, "trusted_by": anchor}
		if signer != nil {
			res["signer"] = signer.Subject.String()
			res["issuer"] = signer.Issuer.String()
		}
		if !at.IsZero() {
			res["signing_time"] = at.UTC()
		}
		return writeJSON(a.env.Stdout, res)
	}
	fmt.Fprintln(a.env.Stdout, "signature valid")
	if signer != nil {
		fmt.Fprintf(a.env.Stdout, "signer: %s\nissuer: %s (chain checked against %s)\n", signer.Subject, signer.Issuer, anchor)
	}
	if !at.IsZero() {
		fmt.Fprintf(a.env.Stdout, "signed at: %s (as stated by the signer)\n", at.In(certinfo.JST).Format("2006-01-02 15:04:05 MST"))
	}
	return nil
}
