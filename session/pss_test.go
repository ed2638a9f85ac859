package session

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"slices"
	"sync"
	"testing"

	"github.com/jpki-pkcs11/jpki-pkcs11/card"
	"github.com/jpki-pkcs11/jpki-pkcs11/ck"
	"github.com/jpki-pkcs11/jpki-pkcs11/objects"
	"github.com/jpki-pkcs11/jpki-pkcs11/vcard"
)

// probeSystem wraps fakeSystem: its cards answer sw (when not 0) to every
// signature command without data, as a card that checks the security state or
// the data before P1 would. It counts the data-less signature commands (probes)
// the cards receive.
type probeSystem struct {
	*fakeSystem
	sw uint16

	mu     sync.Mutex
	probes []byte // P1 of each data-less signature command
}

func (s *probeSystem) Connect(reader string) (card.Transport, error) {
	t, err := s.fakeSystem.Connect(reader)
	if err != nil {
		return nil, err
	}
	return &probeTransport{Transport: t, s: s}, nil
}

func (s *probeSystem) probed() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.probes)
}

type probeTransport struct {
	card.Transport
	s *probeSystem
}

func (t *probeTransport) Transmit(cmd []byte) ([]byte, error) {
	if len(cmd) == 4 && cmd[0] == 0x80 && cmd[1] == 0x2A {
		t.s.mu.Lock()
		t.s.probes = append(t.s.probes, cmd[2])
		t.s.mu.Unlock()
		if t.s.sw != 0 {
			return []byte{byte(t.s.sw >> 8), byte(t.s.sw)}, nil
		}
	}
	return t.Transport.Transmit(cmd)
}

// TestPSSDetection: PSS is offered only on a card that showed it knows P1 04 after
// refusing the control P1 7F with 6A 86; the probe runs once per insertion, lazily,
// costs no PIN try and signs nothing; a card without PSS (or one whose answers
// cannot tell) offers no PSS mechanism anywhere and still signs PKCS#1 v1.5.
func TestPSSDetection(t *testing.T) {
	for _, tc := range []struct {
		name   string
		o      vcard.Options
		sw     uint16 // answer to every data-less signature command (0: the card's own)
		pss    bool
		probes []byte // P1 of the probes of one insertion
	}{
		{"P1 first, PSS", vcard.Options{}, 0, true, []byte{0x7F, 0x04}},
		{"P1 first, no PSS", vcard.Options{NoPSS: true}, 0, false, []byte{0x7F, 0x04}},
		{"security first (69 82 to any P1)", vcard.Options{}, 0x6982, false, []byte{0x7F}},
		{"length first (67 00 to any P1)", vcard.Options{}, 0x6700, false, []byte{0x7F}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sys := &probeSystem{fakeSystem: newFakeSystem(reader0), sw: tc.sw}
			vc := newVCard(t, tc.o)
			sys.Insert(reader0, vc)
			log := logAPDUs(vc)
			m, err := New(Config{System: sys})
			must(t, "New", err)
			t.Cleanup(m.Close)

			// lazily: listing slots and tokens and opening a session do not probe
			slots, err := m.SlotList(true)
			must(t, "SlotList", err)
			for _, s := range slots {
				_, err := m.TokenInfo(s)
				must(t, "TokenInfo", err)
			}
			h := open(t, m, 0, false)
			if p := sys.probed(); len(p) != 0 {
				t.Fatalf("probed %X before anything asked for a mechanism", p)
			}

			for _, slot := range []ck.ULong{0, 1, 0} {
				mechs, err := m.Mechanisms(slot)
				must(t, "Mechanisms", err)
				if slices.Contains(mechs, ck.CKM_RSA_PKCS_PSS) != tc.pss ||
					!tc.pss && slices.Contains(mechs, ck.CKM_SHA256_RSA_PKCS_PSS) {
					t.Fatalf("slot %d: mechanisms %v, want PSS %v", slot, mechs, tc.pss)
				}
				for _, pm := range pssMechs {
					_, err := m.MechanismInfo(slot, pm)
					if tc.pss && pm == ck.CKM_SHA256_RSA_PKCS_PSS && contextLogin(objects.Token(slot)+objects.AuthToken) {
						wantRV(t, "MechanismInfo(SHA256_RSA_PKCS_PSS), context login", err, ck.CKR_MECHANISM_INVALID)
					} else if tc.pss {
						must(t, "MechanismInfo(PSS)", err)
					} else {
						wantRV(t, "MechanismInfo(PSS)", err, ck.CKR_MECHANISM_INVALID)
					}
				}
				if !slices.Contains(mechs, ck.CKM_SHA256_RSA_PKCS) {
					t.Fatalf("slot %d: no CKM_SHA256_RSA_PKCS in %v", slot, mechs)
				}
			}
			if p := sys.probed(); string(p) != string(tc.probes) {
				t.Fatalf("probes with P1 %X, want %X once per insertion", p, tc.probes)
			}
			// no PIN sent, nothing signed, no try spent
			for _, c := range log.cmds {
				if c[1] == 0x20 && len(c) > 4 || c[1] == 0x2A && len(c) > 4 {
					t.Fatalf("the probe sent % X", c)
				}
			}
			if st := vc.Status(); st.AuthTries != card.AuthKey.MaxTries() || st.SignTries != card.SignKey.MaxTries() {
				t.Fatalf("tries %d/%d", st.AuthTries, st.SignTries)
			}

			must(t, "Login", m.Login(h, ck.CKU_USER, []byte("1234")))
			priv := find(t, m, h, classTmpl(ck.CKO_PRIVATE_KEY))
			if len(priv) != 1 {
				t.Fatalf("private keys %v", priv)
			}
			allowed := attr(t, m, h, priv[0], ck.CKA_ALLOWED_MECHANISMS)
			if want := len(mechanismsFor(objects.KindPrivateKey, tc.pss)) * ck.ULongSize; len(allowed) != want {
				t.Fatalf("CKA_ALLOWED_MECHANISMS %d bytes, want %d", len(allowed), want)
			}
			pssMech := Mechanism{Type: ck.CKM_SHA256_RSA_PKCS_PSS, Param: PSSParams(ck.CKM_SHA256, ck.CKG_MGF1_SHA256, 32)}
			if err := m.SignInit(h, pssMech, priv[0]); tc.pss {
				must(t, "SignInit(PSS)", err)
				_, err := m.Sign(h, []byte("message"))
				must(t, "Sign(PSS)", err)
			} else {
				wantRV(t, "SignInit(PSS)", err, ck.CKR_MECHANISM_INVALID)
			}
			// PKCS#1 v1.5 as before
			must(t, "SignInit(SHA256_RSA_PKCS)", m.SignInit(h, Mechanism{Type: ck.CKM_SHA256_RSA_PKCS}, priv[0]))
			sig, err := m.Sign(h, []byte("message"))
			must(t, "Sign(SHA256_RSA_PKCS)", err)
			sum := sha256.Sum256([]byte("message"))
			rpub := certOf(t, vc.Status().AuthCert).PublicKey.(*rsa.PublicKey)
			if err := rsa.VerifyPKCS1v15(rpub, crypto.SHA256, sum[:], sig); err != nil {
				t.Fatalf("PKCS#1 v1.5 signature: %v", err)
			}
			if p := sys.probed(); string(p) != string(tc.probes) {
				t.Fatalf("probes %X after signing, want %X", p, tc.probes)
			}

			// a new insertion is asked again
			sys.Remove(reader0)
			sys.Insert(reader0, vc)
			if _, err := m.SlotList(true); err != nil {
				t.Fatal(err)
			}
			if _, err := m.Mechanisms(0); err != nil {
				t.Fatal(err)
			}
			if p := sys.probed(); len(p) != 2*len(tc.probes) {
				t.Fatalf("probes %X after a new insertion, want two rounds of %X", p, tc.probes)
			}
		})
	}
}

// TestPSSMechanisms: CKM_RSA_PKCS_PSS signs a 32-byte SHA-256 hash and
// CKM_SHA256_RSA_PKCS_PSS a message (single- and multi-part), both through the
// card's P1 04 with the hash as input; only SHA-256 / MGF1-SHA-256 / salt 32 are
// accepted as parameters.
func TestPSSMechanisms(t *testing.T) {
	m, _, vc := setup(t, vcard.Options{})
	log := logAPDUs(vc)
	h := open(t, m, 0, false)
	must(t, "Login", m.Login(h, ck.CKU_USER, []byte("1234")))
	priv := find(t, m, h, classTmpl(ck.CKO_PRIVATE_KEY))
	pub := find(t, m, h, classTmpl(ck.CKO_PUBLIC_KEY))
	if len(priv) != 1 || len(pub) != 1 {
		t.Fatalf("keys %v %v", priv, pub)
	}
	rpub := certOf(t, vc.Status().AuthCert).PublicKey.(*rsa.PublicKey)
	good := PSSParams(ck.CKM_SHA256, ck.CKG_MGF1_SHA256, 32)
	msg := []byte("a TLS 1.3 CertificateVerify content, in three parts")
	sum := sha256.Sum256(msg)
	verify := func(what string, sig []byte) {
		t.Helper()
		if err := rsa.VerifyPSS(rpub, crypto.SHA256, sum[:], sig, &rsa.PSSOptions{SaltLength: 32, Hash: crypto.SHA256}); err != nil {
			t.Fatalf("%s: PSS signature does not verify: %v", what, err)
		}
		// the card got P1 04 and the 32-byte hash
		last := log.cmds[len(log.cmds)-1]
		if last[1] != 0x2A || last[2] != card.SchemePSSSHA256 || last[4] != 32 || string(last[5:37]) != string(sum[:]) {
			t.Fatalf("%s: card command % X", what, last)
		}
	}

	for _, mech := range pssMechs {
		for _, bad := range [][]byte{nil, {}, good[:len(good)-1], append(slices.Clone(good), 0),
			PSSParams(ck.CKM_SHA_1, ck.CKG_MGF1_SHA256, 32), PSSParams(ck.CKM_SHA384, ck.CKG_MGF1_SHA256, 32),
			PSSParams(ck.CKM_SHA256, ck.CKG_MGF1_SHA1, 32), PSSParams(ck.CKM_SHA256, ck.CKG_MGF1_SHA384, 32),
			PSSParams(ck.CKM_SHA256, ck.CKG_MGF1_SHA256, 0), PSSParams(ck.CKM_SHA256, ck.CKG_MGF1_SHA256, 20),
			PSSParams(ck.CKM_SHA256, ck.CKG_MGF1_SHA256, 222)} {
			wantRV(t, "SignInit(bad PSS parameters)", m.SignInit(h, Mechanism{Type: mech, Param: bad}, priv[0]), ck.CKR_MECHANISM_PARAM_INVALID)
			wantRV(t, "VerifyInit(bad PSS parameters)", m.VerifyInit(h, Mechanism{Type: mech, Param: bad}, pub[0]), ck.CKR_MECHANISM_PARAM_INVALID)
		}
	}

	// CKM_RSA_PKCS_PSS: the caller hashes
	raw := Mechanism{Type: ck.CKM_RSA_PKCS_PSS, Param: good}
	must(t, "SignInit(RSA_PKCS_PSS)", m.SignInit(h, raw, priv[0]))
	if n, err := m.SignLength(h); err != nil || n != 256 {
		t.Fatalf("SignLength %d %v", n, err)
	}
	sig, err := m.Sign(h, sum[:])
	must(t, "Sign(RSA_PKCS_PSS)", err)
	verify("CKM_RSA_PKCS_PSS", sig)
	must(t, "VerifyInit(RSA_PKCS_PSS)", m.VerifyInit(h, raw, pub[0]))
	must(t, "Verify(RSA_PKCS_PSS)", m.Verify(h, sum[:], sig))
	for _, n := range []int{20, 31, 33, 51} {
		must(t, "SignInit(RSA_PKCS_PSS)", m.SignInit(h, raw, priv[0]))
		n0 := len(log.cmds)
		_, err := m.Sign(h, make([]byte, n))
		wantRV(t, "Sign(RSA_PKCS_PSS) of a non-SHA-256 input", err, ck.CKR_DATA_LEN_RANGE)
		if len(log.cmds) != n0 {
			t.Fatalf("%d-byte input reached the card", n)
		}
	}

	// CKM_SHA256_RSA_PKCS_PSS: the host hashes, single- and multi-part
	hashed := Mechanism{Type: ck.CKM_SHA256_RSA_PKCS_PSS, Param: good}
	must(t, "SignInit(SHA256_RSA_PKCS_PSS)", m.SignInit(h, hashed, priv[0]))
	sig, err = m.Sign(h, msg)
	must(t, "Sign(SHA256_RSA_PKCS_PSS)", err)
	verify("CKM_SHA256_RSA_PKCS_PSS single-part", sig)
	must(t, "SignInit(SHA256_RSA_PKCS_PSS)", m.SignInit(h, hashed, priv[0]))
	for _, part := range [][]byte{msg[:5], msg[5:5], msg[5:30], msg[30:]} {
		must(t, "SignUpdate", m.SignUpdate(h, part))
	}
	sig2, err := m.SignFinal(h)
	must(t, "SignFinal(SHA256_RSA_PKCS_PSS)", err)
	verify("CKM_SHA256_RSA_PKCS_PSS multi-part", sig2)
	if string(sig) == string(sig2) {
		t.Fatal("two PSS signatures are equal: the salt is not random")
	}
	must(t, "VerifyInit(SHA256_RSA_PKCS_PSS)", m.VerifyInit(h, hashed, pub[0]))
	must(t, "VerifyUpdate", m.VerifyUpdate(h, msg[:10]))
	must(t, "VerifyUpdate", m.VerifyUpdate(h, msg[10:]))
	must(t, "VerifyFinal", m.VerifyFinal(h, sig2))
	must(t, "VerifyInit(SHA256_RSA_PKCS_PSS)", m.VerifyInit(h, hashed, pub[0]))
	wantRV(t, "Verify(tampered)", m.Verify(h, append([]byte("x"), msg...), sig), ck.CKR_SIGNATURE_INVALID)
}

// TestPSSListing: a token whose key wants a context-specific login
// (CKA_ALWAYS_AUTHENTICATE) lists and describes CKM_RSA_PKCS_PSS but not
// CKM_SHA256_RSA_PKCS_PSS (NSS would sign through a streaming context that never
// logs in for the context); it still accepts it. A token without such a key lists
// and describes both.
func TestPSSListing(t *testing.T) {
	m, _, _ := setup(t, vcard.Options{})
	for _, tok := range []objects.Token{objects.AuthToken, objects.SignToken} {
		slot := ck.ULong(tok - objects.AuthToken)
		mechs, err := m.Mechanisms(slot)
		must(t, "Mechanisms", err)
		if !slices.Contains(mechs, ck.CKM_RSA_PKCS_PSS) ||
			slices.Contains(mechs, ck.CKM_SHA256_RSA_PKCS_PSS) == contextLogin(tok) {
			t.Fatalf("token %d (context login %v): mechanisms %v", tok, contextLogin(tok), mechs)
		}
		info, err := m.MechanismInfo(slot, ck.CKM_SHA256_RSA_PKCS_PSS)
		if contextLogin(tok) {
			wantRV(t, "MechanismInfo(SHA256_RSA_PKCS_PSS), context login", err, ck.CKR_MECHANISM_INVALID)
		} else if must(t, "MechanismInfo(SHA256_RSA_PKCS_PSS)", err); info.Flags&ck.CKF_SIGN == 0 {
			t.Fatalf("flags %#x", info.Flags)
		}
		info, err = m.MechanismInfo(slot, ck.CKM_RSA_PKCS_PSS)
		if must(t, "MechanismInfo(RSA_PKCS_PSS)", err); info.Flags&ck.CKF_SIGN == 0 {
			t.Fatalf("flags %#x", info.Flags)
		}
	}
	// accepted all the same on the authentication token (TestPSSMechanisms signs with it)
}
