package session

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"slices"
	"testing"

	"github.com/jpki-pkcs11/jpki-pkcs11/ck"
	"github.com/jpki-pkcs11/jpki-pkcs11/vcard"
)

// loggedIn returns a logged-in session on slot, its private and public key.
func loggedIn(t *testing.T, m *Manager, slot ck.ULong, pin string) (h, priv, pub ck.ULong) {
	t.Helper()
	h = open(t, m, slot, false)
	must(t, "Login", m.Login(h, ck.CKU_USER, []byte(pin)))
	pk := find(t, m, h, classTmpl(ck.CKO_PRIVATE_KEY))
	pb := find(t, m, h, classTmpl(ck.CKO_PUBLIC_KEY))
	if len(pk) != 1 || len(pb) != 1 {
		t.Fatalf("keys: %v %v", pk, pb)
	}
	return h, pk[0], pb[0]
}

func TestSignEachMechanism(t *testing.T) {
	m, _, c := setup(t, vcard.Options{})
	st := c.Status()
	for _, tc := range []struct {
		slot ck.ULong
		pin  string
		cert []byte
	}{{0, "1234", st.AuthCert}, {1, "ABC123", st.SignCert}} {
		h, priv, pub := loggedIn(t, m, tc.slot, tc.pin)
		rpub := certOf(t, tc.cert).PublicKey.(*rsa.PublicKey)
		msg := []byte("a document to sign, in two parts")
		for _, mech := range signMechs {
			data := msg
			hh, hashed := hashOf(mech)
			if !hashed {
				sum := sha256.Sum256(msg)
				data = digestInfo(crypto.SHA256, sum[:])
			}
			must(t, "SignInit", m.SignInit(h, Mechanism{Type: mech}, priv))
			n, err := m.SignLength(h)
			must(t, "SignLength", err)
			if n != 256 {
				t.Fatalf("SignLength %d", n)
			}
			sig, err := m.Sign(h, data)
			must(t, "Sign", err)
			var verr error
			if hashed {
				d := hh.New()
				d.Write(msg)
				verr = rsa.VerifyPKCS1v15(rpub, hh, d.Sum(nil), sig)
			} else {
				verr = rsa.VerifyPKCS1v15(rpub, 0, data, sig)
			}
			if verr != nil {
				t.Fatalf("mechanism %#x: signature does not verify: %v", mech, verr)
			}
			// multi-part gives the same signature (PKCS#1 v1.5 is deterministic)
			must(t, "SignInit", m.SignInit(h, Mechanism{Type: mech}, priv))
			must(t, "SignUpdate", m.SignUpdate(h, data[:10]))
			must(t, "SignUpdate", m.SignUpdate(h, data[10:]))
			sig2, err := m.SignFinal(h)
			must(t, "SignFinal", err)
			if string(sig2) != string(sig) {
				t.Fatalf("mechanism %#x: multi-part signature differs", mech)
			}
			// software verification with the public key object
			must(t, "VerifyInit", m.VerifyInit(h, Mechanism{Type: mech}, pub))
			must(t, "Verify", m.Verify(h, data, sig))
			must(t, "VerifyInit", m.VerifyInit(h, Mechanism{Type: mech}, pub))
			must(t, "VerifyUpdate", m.VerifyUpdate(h, data[:5]))
			must(t, "VerifyUpdate", m.VerifyUpdate(h, data[5:]))
			must(t, "VerifyFinal", m.VerifyFinal(h, sig))
			bad := append([]byte(nil), sig...)
			bad[10] ^= 1
			must(t, "VerifyInit", m.VerifyInit(h, Mechanism{Type: mech}, pub))
			wantRV(t, "Verify(bad)", m.Verify(h, data, bad), ck.CKR_SIGNATURE_INVALID)
			must(t, "VerifyInit", m.VerifyInit(h, Mechanism{Type: mech}, pub))
			wantRV(t, "Verify(short)", m.Verify(h, data, sig[:100]), ck.CKR_SIGNATURE_LEN_RANGE)
		}
	}
}

func TestSignErrors(t *testing.T) {
	m, sys, _ := setup(t, vcard.Options{})
	pub0 := open(t, m, 0, false)
	pubKeys := find(t, m, pub0, classTmpl(ck.CKO_PUBLIC_KEY))
	certs := find(t, m, pub0, classTmpl(ck.CKO_CERTIFICATE))
	h, priv, pub := loggedIn(t, m, 0, "1234")
	if pubKeys[0] != pub {
		t.Fatal("public key handle changed with login")
	}
	sha := Mechanism{Type: ck.CKM_SHA256_RSA_PKCS}
	wantRV(t, "SignInit(AES)", m.SignInit(h, Mechanism{Type: ck.CKM_AES_CBC}, priv), ck.CKR_MECHANISM_INVALID)
	wantRV(t, "SignInit(PSS, no params)", m.SignInit(h, Mechanism{Type: ck.CKM_RSA_PKCS_PSS}, priv), ck.CKR_MECHANISM_PARAM_INVALID)
	wantRV(t, "SignInit(SHA-384 RSA PKCS)", m.SignInit(h, Mechanism{Type: ck.CKM_SHA384_RSA_PKCS_PSS}, priv), ck.CKR_MECHANISM_INVALID)
	wantRV(t, "SignInit(param)", m.SignInit(h, Mechanism{Type: ck.CKM_RSA_PKCS, Param: []byte{1}}, priv), ck.CKR_MECHANISM_PARAM_INVALID)
	wantRV(t, "SignInit(bad handle)", m.SignInit(h, sha, 12345), ck.CKR_KEY_HANDLE_INVALID)
	wantRV(t, "SignInit(certificate)", m.SignInit(h, sha, certs[0]), ck.CKR_KEY_HANDLE_INVALID)
	wantRV(t, "SignInit(public key)", m.SignInit(h, sha, pub), ck.CKR_KEY_FUNCTION_NOT_PERMITTED)
	wantRV(t, "VerifyInit(private key)", m.VerifyInit(h, sha, priv), ck.CKR_KEY_FUNCTION_NOT_PERMITTED)
	_, err := m.Sign(h, []byte("x"))
	wantRV(t, "Sign without Init", err, ck.CKR_OPERATION_NOT_INITIALIZED)
	_, err = m.SignLength(h)
	wantRV(t, "SignLength without Init", err, ck.CKR_OPERATION_NOT_INITIALIZED)
	wantRV(t, "SignUpdate without Init", m.SignUpdate(h, nil), ck.CKR_OPERATION_NOT_INITIALIZED)
	_, err = m.SignFinal(h)
	wantRV(t, "SignFinal without Init", err, ck.CKR_OPERATION_NOT_INITIALIZED)
	wantRV(t, "Verify without Init", m.Verify(h, nil, nil), ck.CKR_OPERATION_NOT_INITIALIZED)
	must(t, "SignInit", m.SignInit(h, sha, priv))
	wantRV(t, "SignInit twice", m.SignInit(h, sha, priv), ck.CKR_OPERATION_ACTIVE)
	// CONTEXT_SPECIFIC inside the operation: verified again
	must(t, "Login(CONTEXT_SPECIFIC)", m.Login(h, ck.CKU_CONTEXT_SPECIFIC, []byte("1234")))
	if _, err := m.Sign(h, []byte("data")); err != nil {
		t.Fatal(err)
	}
	// CKM_RSA_PKCS input limits
	raw := Mechanism{Type: ck.CKM_RSA_PKCS}
	must(t, "SignInit", m.SignInit(h, raw, priv))
	_, err = m.Sign(h, make([]byte, 246))
	wantRV(t, "Sign(246 bytes)", err, ck.CKR_DATA_LEN_RANGE)
	_, err = m.Sign(h, []byte("x"))
	wantRV(t, "Sign ended by the error", err, ck.CKR_OPERATION_NOT_INITIALIZED)
	must(t, "SignInit", m.SignInit(h, raw, priv))
	_, err = m.Sign(h, nil)
	wantRV(t, "Sign(empty)", err, ck.CKR_DATA_LEN_RANGE)
	must(t, "SignInit", m.SignInit(h, raw, priv))
	must(t, "SignUpdate", m.SignUpdate(h, make([]byte, 200)))
	wantRV(t, "SignUpdate past 245", m.SignUpdate(h, make([]byte, 46)), ck.CKR_DATA_LEN_RANGE)
	must(t, "SignInit", m.SignInit(h, raw, priv))
	sig, err := m.Sign(h, make([]byte, 245))
	must(t, "Sign(245 bytes)", err)
	if len(sig) != 256 {
		t.Fatal(len(sig))
	}

	// another application resets the card: the login is gone, nothing is re-sent
	must(t, "SignInit", m.SignInit(h, sha, priv))
	sys.Reset(reader0)
	_, err = m.Sign(h, []byte("data"))
	wantRV(t, "Sign after a reset", err, ck.CKR_USER_NOT_LOGGED_IN)
	si, _ := m.SessionInfo(h)
	if si.State != ck.CKS_RO_PUBLIC_SESSION {
		t.Fatalf("state after reset %d", si.State)
	}
	// the always-authenticate key starts without a login, but signs only with one
	must(t, "SignInit after reset", m.SignInit(h, sha, priv))
	_, err = m.Sign(h, []byte("data"))
	wantRV(t, "Sign after reset", err, ck.CKR_USER_NOT_LOGGED_IN)
	must(t, "Login again", m.Login(h, ck.CKU_USER, []byte("1234")))
	must(t, "SignInit", m.SignInit(h, sha, priv))
	if _, err := m.Sign(h, []byte("data")); err != nil {
		t.Fatal(err)
	}

	// logout ends signing
	must(t, "Logout", m.Logout(h))
	must(t, "SignInit after logout", m.SignInit(h, sha, priv))
	_, err = m.Sign(h, []byte("data"))
	wantRV(t, "Sign after logout", err, ck.CKR_USER_NOT_LOGGED_IN)
	// the signature token's key is not always-authenticate: no SignInit without a login
	h1 := open(t, m, 1, false)
	must(t, "Login(sign)", m.Login(h1, ck.CKU_USER, []byte("ABC123")))
	spriv := find(t, m, h1, classTmpl(ck.CKO_PRIVATE_KEY))
	must(t, "Logout(sign)", m.Logout(h1))
	wantRV(t, "SignInit(sign key) without login", m.SignInit(h1, sha, spriv[0]), ck.CKR_USER_NOT_LOGGED_IN)
}

// TestContextSpecificLogin: the authentication key signs after
// C_Login(CKU_CONTEXT_SPECIFIC) alone, as NSS does it for an always-authenticate
// key on a token without CKF_LOGIN_REQUIRED (docs/ONE-PIN.md): one VERIFY, the
// token is logged in from then on and the key stops asking for a context login;
// a malformed PIN costs no try.
func TestContextSpecificLogin(t *testing.T) {
	m, _, c := setup(t, vcard.Options{})
	rpub := certOf(t, c.Status().AuthCert).PublicKey.(*rsa.PublicKey)
	h := open(t, m, 0, false)
	privs := find(t, m, h, classTmpl(ck.CKO_PRIVATE_KEY))
	if len(privs) != 1 {
		t.Fatalf("authentication key before login: %v", privs)
	}
	priv := privs[0]
	alwaysAuth := func() byte { return attr(t, m, h, priv, ck.CKA_ALWAYS_AUTHENTICATE)[0] }
	if alwaysAuth() != 1 {
		t.Fatal("CKA_ALWAYS_AUTHENTICATE before login: want true")
	}
	aaTmpl := []Attribute{{ck.CKA_ALWAYS_AUTHENTICATE, []byte{1}}}
	if got := find(t, m, h, aaTmpl); len(got) != 1 {
		t.Fatalf("search by CKA_ALWAYS_AUTHENTICATE=true before login: %v", got)
	}
	sha := Mechanism{Type: ck.CKM_SHA256_RSA_PKCS}
	msg := []byte("TLS handshake hash")
	sum := sha256.Sum256(msg)
	log := logAPDUs(c)

	// no login at all: the signature is refused before the card
	must(t, "SignInit without login", m.SignInit(h, sha, priv))
	_, err := m.Sign(h, msg)
	wantRV(t, "Sign without any login", err, ck.CKR_USER_NOT_LOGGED_IN)
	// a malformed PIN: refused locally, the operation stays
	must(t, "SignInit", m.SignInit(h, sha, priv))
	wantRV(t, "Login(CONTEXT_SPECIFIC, malformed)", m.Login(h, ck.CKU_CONTEXT_SPECIFIC, []byte("12a")), ck.CKR_PIN_INCORRECT)
	if len(log.cmds) != 0 {
		t.Fatalf("APDUs without a well-formed PIN: %x", log.cmds)
	}
	must(t, "Login(CONTEXT_SPECIFIC)", m.Login(h, ck.CKU_CONTEXT_SPECIFIC, []byte("1234")))
	verifies := 0
	for _, cmd := range log.cmds {
		if len(cmd) > 4 && cmd[1] == 0x20 && cmd[4] != 0 {
			verifies++
		}
	}
	if verifies != 1 {
		t.Fatalf("context login sent %d VERIFY with a PIN, want 1", verifies)
	}
	sig, err := m.Sign(h, msg)
	must(t, "Sign after the context login", err)
	if err := rsa.VerifyPKCS1v15(rpub, crypto.SHA256, sum[:], sig); err != nil {
		t.Fatalf("signature does not verify: %v", err)
	}
	// the token is logged in now: no further PIN, and the key says so
	if si, _ := m.SessionInfo(h); si.State != ck.CKS_RO_USER_FUNCTIONS {
		t.Fatalf("session state %d after a context login, want user functions", si.State)
	}
	if alwaysAuth() != 0 || len(find(t, m, h, aaTmpl)) != 0 {
		t.Fatal("CKA_ALWAYS_AUTHENTICATE while logged in: want false")
	}
	for range 2 {
		must(t, "SignInit", m.SignInit(h, sha, priv))
		if _, err := m.Sign(h, msg); err != nil {
			t.Fatalf("Sign while logged in: %v", err)
		}
	}
	// a client that caches the attribute logs in again for each signature: fine
	must(t, "SignInit", m.SignInit(h, sha, priv))
	must(t, "Login(CONTEXT_SPECIFIC) when logged in", m.Login(h, ck.CKU_CONTEXT_SPECIFIC, []byte("1234")))
	if _, err := m.Sign(h, msg); err != nil {
		t.Fatal(err)
	}
	wantRV(t, "Login(USER) after a context login", m.Login(h, ck.CKU_USER, []byte("1234")), ck.CKR_USER_ALREADY_LOGGED_IN)
	// logout: the key asks again
	must(t, "Logout", m.Logout(h))
	if alwaysAuth() != 1 {
		t.Fatal("CKA_ALWAYS_AUTHENTICATE after logout: want true")
	}
	must(t, "SignInit after logout", m.SignInit(h, sha, priv))
	_, err = m.Sign(h, msg)
	wantRV(t, "Sign after logout", err, ck.CKR_USER_NOT_LOGGED_IN)

	// GnuTLS: the length query says "not logged in", the operation stays, the
	// caller logs in and asks again; or it starts over with a new SignInit
	must(t, "SignInit", m.SignInit(h, sha, priv))
	_, err = m.SignLength(h)
	wantRV(t, "SignLength without login", err, ck.CKR_USER_NOT_LOGGED_IN)
	must(t, "SignInit over a stalled operation", m.SignInit(h, sha, priv))
	_, err = m.SignLength(h)
	wantRV(t, "SignLength without login", err, ck.CKR_USER_NOT_LOGGED_IN)
	must(t, "Login(USER)", m.Login(h, ck.CKU_USER, []byte("1234")))
	if n, err := m.SignLength(h); err != nil || n != 256 {
		t.Fatalf("SignLength after login: %d %v", n, err)
	}
	if _, err := m.Sign(h, msg); err != nil {
		t.Fatalf("Sign after the stalled length query and a login: %v", err)
	}
	must(t, "SignInit", m.SignInit(h, sha, priv))
	wantRV(t, "SignInit over an active operation", m.SignInit(h, sha, priv), ck.CKR_OPERATION_ACTIVE)
}

func TestDigest(t *testing.T) {
	m, _, _ := setup(t, vcard.Options{})
	h := open(t, m, 0, false)
	for _, mech := range digestMechs {
		hh, _ := hashOf(mech)
		want := hh.New()
		want.Write([]byte("abcdef"))
		must(t, "DigestInit", m.DigestInit(h, Mechanism{Type: mech}))
		n, err := m.DigestLength(h)
		must(t, "DigestLength", err)
		if n != hh.Size() {
			t.Fatal(n)
		}
		got, err := m.Digest(h, []byte("abcdef"))
		must(t, "Digest", err)
		if string(got) != string(want.Sum(nil)) {
			t.Fatalf("digest %#x", mech)
		}
		must(t, "DigestInit", m.DigestInit(h, Mechanism{Type: mech}))
		wantRV(t, "DigestInit twice", m.DigestInit(h, Mechanism{Type: mech}), ck.CKR_OPERATION_ACTIVE)
		must(t, "DigestUpdate", m.DigestUpdate(h, []byte("abc")))
		must(t, "DigestUpdate", m.DigestUpdate(h, []byte("def")))
		got, err = m.DigestFinal(h)
		must(t, "DigestFinal", err)
		if string(got) != string(want.Sum(nil)) {
			t.Fatalf("multi-part digest %#x", mech)
		}
	}
	wantRV(t, "DigestInit(RSA)", m.DigestInit(h, Mechanism{Type: ck.CKM_SHA256_RSA_PKCS}), ck.CKR_MECHANISM_INVALID)
	_, err := m.Digest(h, nil)
	wantRV(t, "Digest without Init", err, ck.CKR_OPERATION_NOT_INITIALIZED)
	_, err = m.GenerateRandom(h, 8)
	wantRV(t, "GenerateRandom", err, ck.CKR_RANDOM_NO_RNG)
}

func TestPSS(t *testing.T) {
	m, _, c := setup(t, vcard.Options{})
	st := c.Status()
	mechs, err := m.Mechanisms(0)
	must(t, "Mechanisms", err)
	if !slices.Contains(mechs, ck.CKM_RSA_PKCS_PSS) { // CKM_SHA256_RSA_PKCS_PSS: see TestPSSListing
		t.Fatalf("PSS card: mechanisms %v", mechs)
	}
	if st2 := c.Status(); st2.AuthTries != st.AuthTries {
		t.Fatal("the probe cost a try")
	}
	h, priv, pub := loggedIn(t, m, 0, "1234")
	rpub := certOf(t, st.AuthCert).PublicKey.(*rsa.PublicKey)
	good := PSSParams(ck.CKM_SHA256, ck.CKG_MGF1_SHA256, 32)
	for _, bad := range [][]byte{nil, good[:len(good)-1], PSSParams(ck.CKM_SHA_1, ck.CKG_MGF1_SHA256, 32),
		PSSParams(ck.CKM_SHA256, ck.CKG_MGF1_SHA1, 32), PSSParams(ck.CKM_SHA256, ck.CKG_MGF1_SHA256, 20)} {
		wantRV(t, "SignInit(bad PSS params)", m.SignInit(h, Mechanism{Type: ck.CKM_SHA256_RSA_PKCS_PSS, Param: bad}, priv), ck.CKR_MECHANISM_PARAM_INVALID)
	}
	msg := []byte("TLS 1.3 CertificateVerify content")
	sum := sha256.Sum256(msg)
	for _, tc := range []struct {
		mech ck.ULong
		data []byte
	}{{ck.CKM_SHA256_RSA_PKCS_PSS, msg}, {ck.CKM_RSA_PKCS_PSS, sum[:]}} {
		mech := Mechanism{Type: tc.mech, Param: good}
		must(t, "SignInit(PSS)", m.SignInit(h, mech, priv))
		sig, err := m.Sign(h, tc.data)
		must(t, "Sign(PSS)", err)
		if err := rsa.VerifyPSS(rpub, crypto.SHA256, sum[:], sig, &rsa.PSSOptions{SaltLength: 32}); err != nil {
			t.Fatalf("PSS signature %#x does not verify: %v", tc.mech, err)
		}
		must(t, "VerifyInit(PSS)", m.VerifyInit(h, mech, pub))
		must(t, "Verify(PSS)", m.Verify(h, tc.data, sig))
	}
	must(t, "SignInit(PSS)", m.SignInit(h, Mechanism{Type: ck.CKM_RSA_PKCS_PSS, Param: good}, priv))
	_, err = m.Sign(h, sum[:20])
	wantRV(t, "Sign(PSS, 20 bytes)", err, ck.CKR_DATA_LEN_RANGE)
	am := attrOf(t, m, h, priv, ck.CKA_ALLOWED_MECHANISMS)
	if len(am) != 8*ck.ULongSize {
		t.Fatalf("allowed mechanisms on a PSS card: %d bytes", len(am))
	}

	// a card generation without PSS: not offered, refused
	m2, _, _ := setup(t, vcard.Options{NoPSS: true})
	mechs, _ = m2.Mechanisms(0)
	if slices.Contains(mechs, ck.CKM_RSA_PKCS_PSS) {
		t.Fatal("PSS offered by a card without it")
	}
	_, err = m2.MechanismInfo(0, ck.CKM_SHA256_RSA_PKCS_PSS)
	wantRV(t, "MechanismInfo(PSS) on a no-PSS card", err, ck.CKR_MECHANISM_INVALID)
	h2, priv2, _ := loggedIn(t, m2, 0, "1234")
	wantRV(t, "SignInit(PSS) on a no-PSS card", m2.SignInit(h2, Mechanism{Type: ck.CKM_SHA256_RSA_PKCS_PSS, Param: good}, priv2), ck.CKR_MECHANISM_INVALID)
}

func attrOf(t *testing.T, m *Manager, h, obj, typ ck.ULong) []byte { return attr(t, m, h, obj, typ) }
