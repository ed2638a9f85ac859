package nextgen_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha512"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"

	"github.com/jpki-pkcs11/jpki-pkcs11/card"
	"github.com/jpki-pkcs11/jpki-pkcs11/card/nextgen"
	"github.com/jpki-pkcs11/jpki-pkcs11/vcard"
)

// logged is a virtual card with its APDU log (commands in hex, PINs masked).
type logged struct {
	vc  *vcard.Card
	t   card.Transport
	log []string
}

func newCard(t *testing.T, o vcard.Options) *logged {
	t.Helper()
	vc, err := vcard.NewInMemory(o)
	if err != nil {
		t.Fatal(err)
	}
	l := &logged{vc: vc, t: vcard.NewTransport(vc)}
	vc.SetAPDULog(func(cmd, _ []byte) { l.log = append(l.log, strings.ToUpper(hex.EncodeToString(cmd))) })
	return l
}

// open identifies the card as card.Open does for the module and the CLI.
func (l *logged) open(t *testing.T) (card.Generation, card.Info) {
	t.Helper()
	g, info, err := card.Open(l.t, nextgen.Generation)
	if err != nil {
		t.Fatal(err)
	}
	return g, info
}

// sent counts the logged commands starting with prefix (hex).
func (l *logged) sent(prefix string) int {
	n := 0
	for _, c := range l.log {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

var (
	selJPKI = "00A4040C0AD392F000260100000001"
	selNext = "00A4040C08" + strings.ToUpper(hex.EncodeToString(nextgen.AID))
)

// TestOpenNextGeneration: card.Open finds the virtual next-generation card after
// the JPKI AP is refused (one SELECT each), as a My Number Card with both
// certificates whose keys are ECDSA P-384.
func TestOpenNextGeneration(t *testing.T) {
	l := newCard(t, vcard.Options{Generation: vcard.GenerationNext})
	g, info := l.open(t)
	if _, ok := g.(*nextgen.Card); !ok {
		t.Fatalf("card.Open gave %T, want *nextgen.Card", g)
	}
	if info.Kind != card.KindMyNumber || !info.HasAuthCert || !info.HasSignCert || info.TokenLabel != nextgen.LabelVirtual {
		t.Fatalf("info %+v", info)
	}
	if g.Algorithm() != card.ECDSAP384 {
		t.Fatalf("algorithm %v", g.Algorithm())
	}
	if l.sent(selJPKI) != 1 || l.sent(selNext) != 1 {
		t.Fatalf("identification sent %v", l.log)
	}
	u := newCard(t, vcard.Options{Generation: vcard.GenerationNext, Under15: true})
	if _, info := u.open(t); info.Kind != card.KindMyNumberNoSign || info.HasSignCert {
		t.Fatalf("under-15 next-generation card: %+v", info)
	}
}

// TestTodaysCardSeesNothingNew: a card of today's generation is identified with
// exactly the APDUs of card.Card.Identify: never the next generation's SELECT.
// Every form factor and variation of today's cards is tried.
func TestTodaysCardSeesNothingNew(t *testing.T) {
	for name, o := range map[string]vcard.Options{
		"my-number": {}, "under15": {Under15: true}, "juki": {Juki: true}, "no-pss": {NoPSS: true},
		"android": {Phone: vcard.PhoneAndroid}, "iphone": {Phone: vcard.PhoneIOS},
		"no-short-ef": {Quirks: []string{vcard.QuirkNoShortEF}}, "no-jpki-ap": {Quirks: []string{vcard.QuirkNoJPKIAP}},
	} {
		t.Run(name, func(t *testing.T) {
			l := newCard(t, o)
			g, info := l.open(t)
			if _, ok := g.(*card.Card); !ok {
				t.Fatalf("card.Open gave %T %+v", g, info)
			}
			want := newCard(t, o)
			winfo, err := card.New(want.t).Identify()
			if err != nil {
				t.Fatal(err)
			}
			if info.Kind != winfo.Kind {
				t.Fatalf("card.Open: %v, card.Card.Identify: %v", info.Kind, winfo.Kind)
			}
			if strings.Join(l.log, " ") != strings.Join(want.log, " ") || l.sent(selNext) != 0 {
				t.Fatalf("card.Open sent %v, card.Card.Identify %v", l.log, want.log)
			}
		})
	}
}

// script is a transport that answers each command by its hex prefix (the
// first match), 6A 82 otherwise, and records what it was sent.
type script struct {
	answers [][2]string
	sent    []string
}

func (s *script) Transmit(cmd []byte) ([]byte, error) {
	c := strings.ToUpper(hex.EncodeToString(cmd))
	s.sent = append(s.sent, c)
	for _, a := range s.answers {
		if strings.HasPrefix(c, a[0]) {
			b, _ := hex.DecodeString(a[1])
			return b, nil
		}
	}
	return []byte{0x6A, 0x82}, nil
}
func (s *script) Begin() error { return nil }
func (s *script) End() error   { return nil }
func (s *script) Close() error { return nil }

var (
	selFaceInput = "00A4040C0A" + strings.ToUpper(hex.EncodeToString(card.AIDCardFaceInput))
	selFaceCheck = "00A4040C0A" + strings.ToUpper(hex.EncodeToString(card.AIDCardFaceCheck))
)

// TestOtherCardsGetOnlyTheSelect: a card with none of the APs is asked today's
// SELECTs (the JPKI AP, the card-face APs), the next generation's, and nothing
// else, and a next-generation Card that did not identify sends nothing for any
// operation.
func TestOtherCardsGetOnlyTheSelect(t *testing.T) {
	s := &script{}
	g, info, err := card.Open(s, nextgen.Generation)
	if err != nil || info.Kind != card.KindNotJPKI {
		t.Fatalf("%T %+v %v", g, info, err)
	}
	if want := []string{selJPKI, selFaceInput, selFaceCheck, selNext}; strings.Join(s.sent, " ") != strings.Join(want, " ") {
		t.Fatalf("sent %v, want %v", s.sent, want)
	}
	c := nextgen.New(s)
	if _, err := c.Identify(); err != nil {
		t.Fatal(err)
	}
	s.sent = nil
	ops := map[string]error{}
	_, ops["ReadFile"] = c.ReadFile(card.EFAuthCert)
	_, ops["ReadHead"] = c.ReadHead(card.EFAuthCert, 32)
	_, ops["TriesLeft"] = c.TriesLeft(card.AuthKey)
	ops["Verify"] = c.Verify(card.AuthKey, []byte("1234"))
	ops["ChangePIN"] = c.ChangePIN(card.AuthKey, []byte("1234"), []byte("4321"))
	_, ops["Sign"] = c.Sign(card.AuthKey, card.SchemeECDSA, make([]byte, 48))
	for name, err := range ops {
		if !errors.Is(err, nextgen.ErrNotIdentified) {
			t.Errorf("%s on a card that is not the next generation: %v", name, err)
		}
	}
	if len(s.sent) != 0 {
		t.Fatalf("commands sent to a card that did not identify: %v", s.sent)
	}
}

// TestCardFaceAPIsNotAskedForTheNextGeneration: a My Number Card without the
// JPKI AP whose card-face AP answers (KindUnknownJPKI, as today's Identify
// finds it) is not sent the next generation's SELECT: the virtual
// next-generation card has no card-face AP (card.Open).
func TestCardFaceAPIsNotAskedForTheNextGeneration(t *testing.T) {
	s := &script{answers: [][2]string{{selFaceInput, "9000"}}}
	g, info, err := card.Open(s, nextgen.Generation)
	if _, today := g.(*card.Card); err != nil || !today || info.Kind != card.KindUnknownJPKI || !bytes.Equal(info.OtherAP, card.AIDCardFaceInput) {
		t.Fatalf("%T %+v %v", g, info, err)
	}
	if want := []string{selJPKI, selFaceInput}; strings.Join(s.sent, " ") != strings.Join(want, " ") {
		t.Fatalf("sent %v, want %v", s.sent, want)
	}
}

// TestAnotherCardWithTheAIDIsNotYetSupported: a card that answers the assumed
// AID but is not the virtual card (another label, or no label file) is
// reported as not yet supported, and gets no command beyond its label.
func TestAnotherCardWithTheAIDIsNotYetSupported(t *testing.T) {
	label := hex.EncodeToString([]byte("JPKIAPICCTOKEN3                 "))
	for name, answers := range map[string][][2]string{
		"other label": {{selNext, "9000"}, {"00A4020C020106", "9000"}, {"00B0000020", label + "9000"}},
		"no label":    {{selNext, "9000"}},
	} {
		t.Run(strings.ReplaceAll(name, " ", "_"), func(t *testing.T) {
			s := &script{answers: answers}
			_, info, err := card.Open(s, nextgen.Generation)
			if err != nil || info.Kind != card.KindUnknownJPKI || !bytes.Equal(info.OtherAP, nextgen.AID) || !strings.Contains(info.Reason, "not the virtual card") {
				t.Fatalf("%+v %v", info, err)
			}
			for _, c := range s.sent {
				if !strings.HasPrefix(c, "00A4") && !strings.HasPrefix(c, "00B0") {
					t.Fatalf("sent %s to a card that did not identify", c)
				}
			}
		})
	}
}

func identified(t *testing.T, o vcard.Options) (*logged, *nextgen.Card) {
	t.Helper()
	l := newCard(t, o)
	c := nextgen.New(l.t)
	if info, err := c.Identify(); err != nil || info.Kind == card.KindNotJPKI {
		t.Fatalf("%+v %v", info, err)
	}
	return l, c
}

// TestCertificates: the four certificates read whole (after a ReadHead too);
// the signature certificate only after the signature PIN.
func TestCertificates(t *testing.T) {
	l, c := identified(t, vcard.Options{Generation: vcard.GenerationNext})
	st := l.vc.Status()
	head, err := c.ReadHead(card.EFAuthCert, 255)
	if err != nil || !bytes.Equal(head, st.AuthCert[:255]) {
		t.Fatalf("head: %v", err)
	}
	for ef, want := range map[uint16][]byte{card.EFAuthCert: st.AuthCert, card.EFAuthCACert: st.AuthCA, card.EFSignCACert: st.SignCA} {
		got, err := c.ReadFile(ef)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("EF %04X: %d bytes, %v", ef, len(got), err)
		}
	}
	if _, err := c.ReadFile(card.EFSignCert); !errors.Is(err, card.ErrNotLoggedIn) {
		t.Fatalf("signature certificate before the PIN: %v", err)
	}
	if _, err := c.ReadFile(0x0017); !errors.Is(err, card.ErrFileNotFound) {
		t.Fatalf("a key EF as a certificate: %v", err)
	}
	if err := c.Verify(card.SignKey, []byte("abc123")); err != nil {
		t.Fatal(err)
	}
	got, err := c.ReadFile(card.EFSignCert)
	if err != nil || !bytes.Equal(got, st.SignCert) {
		t.Fatalf("signature certificate after the PIN: %v", err)
	}
	cert, err := x509.ParseCertificate(got)
	if err != nil || cert.SignatureAlgorithm != x509.ECDSAWithSHA384 {
		t.Fatalf("%v %v", cert.SignatureAlgorithm, err)
	}
}

// TestPINs: the counters, a wrong PIN costs one try, a malformed one is refused
// with nothing sent, a change of PIN, the state after a logout and a reset.
func TestPINs(t *testing.T) {
	l, c := identified(t, vcard.Options{Generation: vcard.GenerationNext, AuthPIN: "1234", SignPIN: "ABC123"})
	for k, want := range map[card.Key]int{card.AuthKey: 3, card.SignKey: 5} {
		if n, err := c.TriesLeft(k); err != nil || n != want {
			t.Fatalf("%v tries %d %v", k, n, err)
		}
	}
	sent := len(l.log)
	if err := c.Verify(card.AuthKey, []byte("12a4")); !errors.Is(err, card.ErrPINFormat) || len(l.log) != sent {
		t.Fatalf("malformed PIN: %v, %d commands", err, len(l.log)-sent)
	}
	err := c.Verify(card.AuthKey, []byte("9999"))
	var se card.StatusError
	var pe *card.PINError
	if !errors.Is(err, card.ErrWrongPIN) || !errors.As(err, &se) || !errors.As(err, &pe) || pe.Key != card.AuthKey {
		t.Fatalf("wrong PIN: %v", err)
	}
	if n, _ := se.TriesLeft(); n != 2 || l.vc.Status().AuthTries != 2 || len(l.log) != sent+1 {
		t.Fatalf("wrong PIN: %d tries left, card %d, %d commands", n, l.vc.Status().AuthTries, len(l.log)-sent)
	}
	if err := c.ChangePIN(card.AuthKey, []byte("1234"), []byte("4321")); err != nil {
		t.Fatal(err)
	}
	if err := c.Verify(card.AuthKey, []byte("4321")); err != nil || !c.LoggedIn(card.AuthKey) || l.vc.Status().AuthTries != 3 {
		t.Fatalf("new PIN: %v", err)
	}
	if err := c.Logout(card.AuthKey); err != nil || c.LoggedIn(card.AuthKey) {
		t.Fatalf("logout: %v", err)
	}
	if _, err := c.Sign(card.AuthKey, card.SchemeECDSA, make([]byte, 48)); !errors.Is(err, card.ErrNotLoggedIn) {
		t.Fatalf("sign after logout: %v", err)
	}
	for range 5 {
		c.Verify(card.SignKey, []byte("WRONG1"))
	}
	if n, err := c.TriesLeft(card.SignKey); err != nil || n != 0 {
		t.Fatalf("blocked: %d %v", n, err)
	}
	if err := c.Verify(card.SignKey, []byte("ABC123")); !errors.Is(err, card.ErrPINBlocked) {
		t.Fatalf("a blocked PIN: %v", err)
	}
}

// TestSign: both keys sign a SHA-384 hash (r||s) that verifies with their
// certificate; without the PIN nothing is sent; other schemes and sizes are
// refused before the card; a reset drops the login.
func TestSign(t *testing.T) {
	l, c := identified(t, vcard.Options{Generation: vcard.GenerationNext, AuthPIN: "1234", SignPIN: "ABC123"})
	st := l.vc.Status()
	sum := sha512.Sum384([]byte("a document"))
	sent := len(l.log)
	if _, err := c.Sign(card.AuthKey, card.SchemeECDSA, sum[:]); !errors.Is(err, card.ErrNotLoggedIn) || len(l.log) != sent {
		t.Fatalf("sign before login: %v", err)
	}
	for _, k := range []struct {
		key  card.Key
		pin  string
		cert []byte
	}{{card.AuthKey, "1234", st.AuthCert}, {card.SignKey, "abc123", st.SignCert}} {
		if err := c.Verify(k.key, []byte(k.pin)); err != nil {
			t.Fatal(err)
		}
		cert, _ := x509.ParseCertificate(k.cert)
		pub := cert.PublicKey.(*ecdsa.PublicKey)
		if pub.Curve != elliptic.P384() {
			t.Fatalf("%v key on %s", k.key, pub.Curve.Params().Name)
		}
		for _, in := range [][]byte{sum[:], sum[:32], make([]byte, 64)} {
			sig, err := c.Sign(k.key, card.SchemeECDSA, in)
			if err != nil || len(sig) != 96 {
				t.Fatalf("%v key: %d bytes, %v", k.key, len(sig), err)
			}
			r, s := new(big.Int).SetBytes(sig[:48]), new(big.Int).SetBytes(sig[48:])
			if !ecdsa.Verify(pub, in, r, s) {
				t.Fatalf("%v key: the signature of a %d-byte hash does not verify", k.key, len(in))
			}
		}
	}
	sent = len(l.log)
	for _, bad := range []struct {
		scheme byte
		in     []byte
	}{{card.SchemePKCS1, sum[:]}, {card.SchemeECDSA, nil}, {card.SchemeECDSA, make([]byte, 65)}} {
		if _, err := c.Sign(card.SignKey, bad.scheme, bad.in); err == nil {
			t.Fatalf("scheme %02X, %d bytes: signed", bad.scheme, len(bad.in))
		}
	}
	if len(l.log) != sent {
		t.Fatalf("refused signatures sent %v", l.log[sent:])
	}
	// the key is set once per transaction: each signature alone sends MSE:SET
	// and PSO, two in one batch share the MSE:SET
	sent = len(l.log)
	c.Sign(card.SignKey, card.SchemeECDSA, sum[:])
	c.Batch(func() {
		c.Sign(card.SignKey, card.SchemeECDSA, sum[:])
		c.Sign(card.SignKey, card.SchemeECDSA, sum[:])
	})
	if got := l.log[sent:]; len(got) != 5 || !strings.HasPrefix(got[0], "002241B6") || !strings.HasPrefix(got[2], "002241B6") ||
		!strings.HasPrefix(got[3], "002A9E9A") || !strings.HasPrefix(got[4], "002A9E9A") {
		t.Fatalf("three signatures sent %v", got)
	}
	l.t.(*vcard.Transport).Reset()
	if _, err := c.Sign(card.SignKey, card.SchemeECDSA, sum[:]); !errors.Is(err, card.ErrNotLoggedIn) || c.LoggedIn(card.SignKey) {
		t.Fatalf("sign after a reset: %v", err)
	}
}

// TestPINAnswersOnlyFromPINCommands: as on today's cards, 63 Cx, 69 83 and 69
// 84 are a PIN's refusal (a *card.PINError) only in the answer to VERIFY with a
// PIN or CHANGE REFERENCE DATA; the same status words in the answer to the
// signature commands or a read are plain status words (session maps them to
// CKR_DEVICE_ERROR, never to a wrong or blocked PIN).
func TestPINAnswersOnlyFromPINCommands(t *testing.T) {
	label := strings.ToUpper(hex.EncodeToString([]byte(nextgen.LabelVirtual)))
	for len(label) < 64 {
		label += "20"
	}
	for _, sw := range []string{"63C2", "6983", "6984"} {
		for _, where := range []string{"MSE:SET", "PSO", "READ BINARY"} {
			answers := [][2]string{{selNext, "9000"}, {"00A4020C020106", "9000"}, {"00A4020C020108", "9000"},
				{"00B0000020", label + "9000"}, {"00B0000002", "01019000"}, {"0020008206", "9000"},
				{"00A4020C020121", "9000"}}
			switch where {
			case "MSE:SET":
				answers = append([][2]string{{"002241B6", sw}}, answers...)
			case "PSO":
				answers = append([][2]string{{"002241B6", "9000"}, {"002A9E9A", sw}}, answers...)
			case "READ BINARY":
				answers = append([][2]string{{"00B0000004", sw}}, answers...)
			}
			s := &script{answers: answers}
			c := nextgen.New(s)
			if info, err := c.Identify(); err != nil || info.Kind != card.KindMyNumber {
				t.Fatalf("%+v %v", info, err)
			}
			if err := c.Verify(card.SignKey, []byte("ABC123")); err != nil {
				t.Fatal(err)
			}
			var err error
			if where == "READ BINARY" {
				_, err = c.ReadHead(card.EFSignCert, 4)
			} else {
				_, err = c.Sign(card.SignKey, card.SchemeECDSA, make([]byte, 48))
			}
			var pe *card.PINError
			var se card.StatusError
			if !errors.As(err, &se) || fmt.Sprintf("%04X", uint16(se)) != sw ||
				errors.Is(err, card.ErrWrongPIN) || errors.Is(err, card.ErrPINBlocked) || errors.As(err, &pe) {
				t.Errorf("%s answered %s: %v, want the plain status word", where, sw, err)
			}
		}
	}
	// and the same words are the PIN's refusal in the answer to VERIFY and CHANGE
	s := &script{answers: [][2]string{{selNext, "9000"}, {"00A4020C02", "9000"}, {"00B0000020", label + "9000"},
		{"00B0000002", "01019000"}, {"0020008104", "63C1"}, {"0020008206", "9000"}, {"0024018206", "6983"}}}
	c := nextgen.New(s)
	if _, err := c.Identify(); err != nil {
		t.Fatal(err)
	}
	var pe *card.PINError
	if err := c.Verify(card.AuthKey, []byte("1234")); !errors.Is(err, card.ErrWrongPIN) || !errors.As(err, &pe) || pe.Op != "verify" {
		t.Fatalf("VERIFY answered 63 C1: %v", err)
	}
	if n, ok := pe.TriesLeft(); !ok || n != 1 {
		t.Fatalf("VERIFY answered 63 C1: %d tries left", n)
	}
	if err := c.ChangePIN(card.SignKey, []byte("ABC123"), []byte("XYZ789")); !errors.Is(err, card.ErrPINBlocked) || !errors.As(err, &pe) || pe.Op != "change" {
		t.Fatalf("CHANGE REFERENCE DATA answered 69 83: %v", err)
	}
}

// TestDiagnose: card.Diagnose with the next generation, as jpki diagnose runs
// it: a card with none of the APs gets today's SELECTs and the next
// generation's, and the transcript replays through card.Open exactly; the
// virtual next-generation card is identified (and nothing but SELECT and READ
// BINARY is sent); a look-alike is not yet supported.
func TestDiagnose(t *testing.T) {
	d := card.Diagnose(&script{}, nextgen.Generation)
	if d.IdentifyErr != nil || d.Info.Kind != card.KindNotJPKI || d.Generation != 0 || len(d.Exchanges) != 4 {
		t.Fatalf("a card without any AP: %+v, %d exchanges", d.Info, len(d.Exchanges))
	}
	r := card.NewReplay(d.Exchanges)
	if _, info, err := card.Open(r, nextgen.Generation); err != nil || info.Kind != card.KindNotJPKI || r.Err() != nil || r.Used() != 4 {
		t.Fatalf("replay through card.Open: %+v %v %v, %d used", info, err, r.Err(), r.Used())
	}

	l := newCard(t, vcard.Options{Generation: vcard.GenerationNext})
	d = card.Diagnose(l.t, nextgen.Generation)
	if d.IdentifyErr != nil || d.Generation != card.ECDSAP384 || d.Info.Kind != card.KindMyNumber {
		t.Fatalf("the virtual next-generation card: %+v %v %v", d.Info, d.Generation, d.IdentifyErr)
	}
	for _, c := range l.log {
		if !strings.HasPrefix(c, "00A4") && !strings.HasPrefix(c, "00B0") {
			t.Fatalf("diagnose sent %s", c)
		}
	}

	label := hex.EncodeToString([]byte("JPKIAPICCTOKEN3                 "))
	s := &script{answers: [][2]string{{selNext, "9000"}, {"00A4020C020106", "9000"}, {"00B0000020", label + "9000"}}}
	d = card.Diagnose(s, nextgen.Generation)
	if d.Info.Kind != card.KindUnknownJPKI || !bytes.Equal(d.Info.OtherAP, nextgen.AID) || d.Generation != 0 {
		t.Fatalf("a look-alike: %+v", d.Info)
	}
}
