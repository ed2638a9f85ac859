package cli

import (
	"bytes"
	"encoding/asn1"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/digitorus/pkcs7"

	"github.com/jpki-pkcs11/jpki-pkcs11/card"
	"github.com/jpki-pkcs11/jpki-pkcs11/card/nextgen"
	"github.com/jpki-pkcs11/jpki-pkcs11/test/testpdf"
	"github.com/jpki-pkcs11/jpki-pkcs11/vcard"
)

// TestNextGenerationStatus: `jpki status` says which generation speaks to a
// next-generation card and that its commands are assumptions; `jpki diagnose`
// names the generation too.
func TestNextGenerationStatus(t *testing.T) {
	sys := vcard.NewSystem()
	sys.Insert("R0", newCard(t, vcard.Options{Generation: vcard.GenerationNext}))
	r := run(t, sys, "", "status")
	for _, want := range []string{"card: My Number Card\n", "generation: next (ECDSA P-384 keys; its commands are assumptions",
		"authentication PIN: 3 tries left", "signature password: 5 tries left", "renewal possible from"} {
		if r.code != 0 || !strings.Contains(r.out, want) {
			t.Fatalf("status (code %d) lacks %q:\n%s%s", r.code, want, r.out, r.err)
		}
	}
	if strings.Contains(r.out, "warning") {
		t.Fatalf("status warns:\n%s", r.out)
	}
	if reps := statusJSON(t, sys); reps[0].Card != "my_number" || !strings.HasPrefix(reps[0].Generation, "next") {
		t.Fatalf("status --json: %+v", reps[0])
	}
	// jpki diagnose identifies it by the next generation's assumed commands,
	// and its transcript holds no PIN and nothing signed
	r = run(t, sys, "", "diagnose")
	if r.code != 0 || !strings.Contains(r.out, "generation: next (ECDSA P-384 keys), identified by the commands this version assumes") {
		t.Fatalf("diagnose: code %d\n%s%s", r.code, r.out, r.err)
	}
	if strings.Contains(r.out, "> 00 20 00 8") || strings.Contains(r.out, "> 00 2A") || strings.Contains(r.out, nextgen.LabelVirtual+"\n---") {
		t.Fatalf("diagnose sent a PIN command or a signature:\n%s", r.out)
	}
}

// TestNextGenerationSignVerify: `jpki sign` with both keys of a next-generation
// card makes CMS signatures with ECDSA and SHA-384 that `jpki verify` accepts.
func TestNextGenerationSignVerify(t *testing.T) {
	sys := vcard.NewSystem()
	sys.Insert("R0", newCard(t, vcard.Options{Generation: vcard.GenerationNext}))
	dir := t.TempDir()
	file := filepath.Join(dir, "doc.txt")
	os.WriteFile(file, []byte("the document"), 0o644)
	if r := run(t, sys, "", "certs", "--out", dir); r.code != 0 {
		t.Fatalf("certs: %s", r.err)
	}
	for _, tc := range []struct{ key, pin, ca string }{{"auth", "1234", "auth-ca.pem"}, {"sign", "ABC123", "sign-ca.pem"}} {
		sig := filepath.Join(dir, tc.key+".p7s")
		if r := run(t, sys, tc.pin+"\n", "sign", "--key", tc.key, "--pin-stdin", "--detached", "--out", sig, file); r.code != 0 {
			t.Fatalf("sign --key %s: %s", tc.key, r.err)
		}
		if r := run(t, sys, "", "verify", file, sig, "--ca", filepath.Join(dir, tc.ca)); r.code != 0 || !strings.Contains(r.out, "signature valid") {
			t.Fatalf("verify %s: code %d out %q err %q", tc.key, r.code, r.out, r.err)
		}
		der, _ := os.ReadFile(sig)
		p7, err := pkcs7.Parse(der)
		if err != nil {
			t.Fatal(err)
		}
		si := p7.Signers[0]
		if !si.DigestAlgorithm.Algorithm.Equal(pkcs7.OIDDigestAlgorithmSHA384) ||
			!si.DigestEncryptionAlgorithm.Algorithm.Equal(pkcs7.OIDDigestAlgorithmECDSASHA384) {
			t.Fatalf("%s: digest %v, signature %v", tc.key, si.DigestAlgorithm.Algorithm, si.DigestEncryptionAlgorithm.Algorithm)
		}
	}
}

// TestNextGenerationPDF: `jpki pdf sign` on a next-generation card embeds a
// CAdES signature with ECDSA.
func TestNextGenerationPDF(t *testing.T) {
	sys := vcard.NewSystem()
	sys.Insert("R0", newCard(t, vcard.Options{Generation: vcard.GenerationNext}))
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.pdf"), filepath.Join(dir, "out.pdf")
	os.WriteFile(in, testpdf.Minimal("Hello"), 0o644)
	if r := run(t, sys, "ABC123\n", "pdf", "sign", in, out, "--pin-stdin"); r.code != 0 {
		t.Fatalf("pdf sign: %s", r.err)
	}
	b, _ := os.ReadFile(out)
	ecdsaSHA384, _ := asn1.Marshal(pkcs7.OIDDigestAlgorithmECDSASHA384)
	if !strings.Contains(string(b), "/ETSI.CAdES.detached") || !strings.Contains(string(b), hex.EncodeToString(ecdsaSHA384)) {
		t.Fatal("the PDF holds no CAdES signature with ecdsa-with-SHA384")
	}
}

// relabeled is a system whose cards show another label than the virtual
// next-generation card's: a real card that would answer the next generation's
// assumed AID.
type relabeled struct{ keepOpen }

func (s relabeled) Connect(reader string) (card.Transport, error) {
	t, err := s.keepOpen.Connect(reader)
	return relabeledTransport{t}, err
}

type relabeledTransport struct{ card.Transport }

func (t relabeledTransport) Transmit(cmd []byte) ([]byte, error) {
	resp, err := t.Transport.Transmit(cmd)
	return bytes.ReplaceAll(resp, []byte(nextgen.LabelVirtual), []byte("JPKIAPICCTOKEN3               ")), err
}

// TestNextGenerationNotYetSupported: a My Number Card this version cannot speak
// to (a card that answers the next generation's assumed AID but is not the
// virtual card; a card without the JPKI AP whose card-face AP answers) is
// reported by `jpki status` and `jpki diagnose` and refused by `jpki sign` as not
// yet supported.
func TestNextGenerationNotYetSupported(t *testing.T) {
	for name, tc := range map[string]struct {
		o      vcard.Options
		wrap   bool
		reason string
	}{
		"assumed AID, another label": {vcard.Options{Generation: vcard.GenerationNext}, true, `with the label "JPKIAPICCTOKEN3"`},
		"card-face AP only":          {vcard.Options{Quirks: []string{vcard.QuirkNoJPKIAP}}, false, ""},
	} {
		t.Run(strings.ReplaceAll(name, " ", "_"), func(t *testing.T) {
			sys := vcard.NewSystem()
			sys.Insert("R0", newCard(t, tc.o))
			runOn := func(stdin string, args ...string) result {
				var out, errb bytes.Buffer
				code := Run(args, Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb,
					System: func() (card.System, error) {
						if tc.wrap {
							return relabeled{keepOpen{sys}}, nil
						}
						return keepOpen{sys}, nil
					}})
				return result{out.String(), errb.String(), code}
			}
			r := runOn("", "status")
			for _, want := range []string{"a My Number Card whose JPKI application this version does not know", "not yet supported", tc.reason} {
				if !strings.Contains(r.out, want) {
					t.Fatalf("status lacks %q:\n%s%s", want, r.out, r.err)
				}
			}
			r = runOn("", "diagnose")
			if r.code != 0 || !strings.Contains(r.out, "card:    a My Number Card whose JPKI application this version does not know") ||
				tc.reason != "" && !strings.Contains(r.out, card.NotYetSupported+": it answers the next generation's assumed AID") {
				t.Fatalf("diagnose: code %d\n%s%s", r.code, r.out, r.err)
			}
			r = runOn("ABC123\n", "sign", "--key", "sign", "--pin-stdin", "--out", filepath.Join(t.TempDir(), "x.p7s"), "/dev/null")
			if r.code == 0 || !strings.Contains(r.err, "not yet supported") {
				t.Fatalf("sign: code %d, %s", r.code, r.err)
			}
		})
	}
}
