package session

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"errors"
	"hash"

	"github.com/jpki-pkcs11/jpki-pkcs11/card"
	"github.com/jpki-pkcs11/jpki-pkcs11/ck"
	"github.com/jpki-pkcs11/jpki-pkcs11/objects"
)

// signOp is an active signature: fixed length, hash state or collected input.
type signOp struct {
	signedData
	mech   ck.ULong
	key    card.Key
	sigLen int
	multi  bool // SignUpdate was called
	// stalled: C_Sign/C_SignFinal was refused for want of a login; the
	// operation stays for the caller to log in and go on, or a new SignInit
	// replaces it
	stalled bool
}

// verifyOp is an active verification in software.
type verifyOp struct {
	signedData
	mech  ck.ULong
	pub   *rsa.PublicKey
	ec    *ecdsa.PublicKey // instead of pub for an ECDSA key
	multi bool
}

// signedData is what a signature is made or checked over: the hash of the data
// fed so far, or for CKM_RSA_PKCS and CKM_ECDSA (no hash) the data itself, a
// DigestInfo or a hash.
type signedData struct {
	h   hash.Hash // nil for CKM_RSA_PKCS and CKM_ECDSA
	buf []byte    // their input so far
	max int       // the most buf may hold
}

func newSignedData(mech ck.ULong) signedData {
	if hh, ok := hashOf(mech); ok {
		return signedData{h: hh.New()}
	}
	if mech == ck.CKM_ECDSA {
		return signedData{max: card.MaxECDSAInput}
	}
	return signedData{max: card.MaxDigestInfoSize}
}

// add feeds data to the hash, or keeps it (at most a DigestInfo's length, or
// the longest hash for CKM_ECDSA).
func (d *signedData) add(data []byte) error {
	if d.h != nil {
		d.h.Write(data)
		return nil
	}
	if len(d.buf)+len(data) > d.max {
		return ck.CKR_DATA_LEN_RANGE
	}
	d.buf = append(d.buf, data...)
	return nil
}

// digestOp is an active digest.
type digestOp struct {
	h     crypto.Hash
	state hash.Hash
	multi bool
}

// keyObject resolves a key handle for an operation: it must be an object of the
// session's token; a certificate or profile is CKR_KEY_HANDLE_INVALID.
func (m *Manager) keyObject(s *session, key ck.ULong) (objects.Spec, *objects.Object, error) {
	base := s.cs.objectHandle(s.tok, 0)
	specs := m.layout(s.cs, s.tok)
	if key < base || key >= base+ck.ULong(len(specs)) {
		return objects.Spec{}, nil, ck.CKR_KEY_HANDLE_INVALID
	}
	i := int(key - base)
	spec := specs[i]
	if spec.Kind != objects.KindPrivateKey && spec.Kind != objects.KindPublicKey {
		return spec, nil, ck.CKR_KEY_HANDLE_INVALID
	}
	if !s.visible(spec) {
		return spec, nil, ck.CKR_USER_NOT_LOGGED_IN
	}
	o, err := m.object(s.cs, s.tok, i, false)
	switch {
	case errors.Is(err, errAbsent):
		return spec, nil, ck.CKR_KEY_HANDLE_INVALID
	case err != nil:
		return spec, nil, m.fail(s, err)
	}
	return spec, o, nil
}

// SignInit starts a signature with the token's private key. The signature length
// is fixed here from the key's modulus.
func (m *Manager) SignInit(h ck.ULong, mech Mechanism, key ck.ULong) error {
	active := func(s *session) bool { return s.sign != nil && !s.sign.stalled }
	return m.keyOpInit(h, mech, key, objects.KindPrivateKey, active, func(s *session, spec objects.Spec, o *objects.Object) error {
		return m.signInit(s, mech, spec, o)
	})
}

// signInit is SignInit once keyOpInit's checks passed (session locked).
func (m *Manager) signInit(s *session, mech Mechanism, spec objects.Spec, o *objects.Object) error {
	if isPSS(mech.Type) {
		if ok, err := m.pssSupported(s.cs, s.tok); err != nil {
			return m.fail(s, err)
		} else if !ok {
			return ck.CKR_MECHANISM_INVALID
		}
	}
	if !spec.AlwaysAuth && !s.cs.isLoggedIn(keyOf(s.tok)) {
		// an always-authenticate key may start without a login: the caller
		// gives the PIN with C_Login(CKU_CONTEXT_SPECIFIC) before C_Sign (the
		// signature itself still needs the token logged in)
		return ck.CKR_USER_NOT_LOGGED_IN
	}
	s.sign = &signOp{signedData: newSignedData(mech.Type), mech: mech.Type, key: keyOf(s.tok), sigLen: signatureLen(o)}
	return nil
}

// modulusLen is the byte length of the key's modulus (the signature length).
func modulusLen(o *objects.Object) int {
	n, _ := o.Attr(ck.CKA_MODULUS)
	if len(n) == 0 {
		return keyBits / 8
	}
	return len(n)
}

// SignLength is the length of the signature fixed at SignInit (no card I/O).
// module/ asks it before every C_Sign and C_SignFinal: CKR_USER_NOT_LOGGED_IN
// while the token is not logged in (the operation stays active).
func (m *Manager) SignLength(h ck.ULong) (n int, err error) {
	err = activeOp(m, h, signOf, func(s *session, _ **signOp) error {
		n, err = s.signLength()
		return err
	})
	return n, err
}

// signLength is SignLength with the session locked and an operation active.
func (s *session) signLength() (int, error) {
	if !s.cs.isLoggedIn(s.sign.key) {
		// An always-authenticate key's operation starts without a login; say
		// so already at the length query: GnuTLS then logs in (C_Login(CKU_USER)
		// with its PIN callback) and asks again on the same operation.
		s.sign.stalled = true
		return 0, ck.CKR_USER_NOT_LOGGED_IN
	}
	return s.sign.sigLen, nil
}

// Sign signs data in one part and ends the operation (also on error).
func (m *Manager) Sign(h ck.ULong, data []byte) (sig []byte, err error) {
	err = activeOp(m, h, signOf, func(s *session, slot **signOp) error {
		op := *slot
		*slot = nil
		if op.multi {
			return ck.CKR_OPERATION_ACTIVE
		}
		if err := op.add(data); err != nil {
			return err
		}
		sig, err = m.signFinish(s, op)
		return err
	})
	return sig, err
}

// SignUpdate feeds one part of a multi-part signature.
func (m *Manager) SignUpdate(h ck.ULong, part []byte) error {
	return activeOp(m, h, signOf, func(_ *session, slot **signOp) error {
		(*slot).multi = true
		if err := (*slot).add(part); err != nil {
			*slot = nil
			return err
		}
		return nil
	})
}

// SignFinal ends a multi-part signature.
func (m *Manager) SignFinal(h ck.ULong) (sig []byte, err error) {
	err = activeOp(m, h, signOf, func(s *session, slot **signOp) error {
		op := *slot
		*slot = nil
		sig, err = m.signFinish(s, op)
		return err
	})
	return sig, err
}

// signFinish builds the card's input and signs on the card (session lock held).
func (m *Manager) signFinish(s *session, op *signOp) ([]byte, error) {
	var input []byte
	scheme := card.SchemePKCS1
	switch {
	case isECDSA(op.mech):
		scheme = card.SchemeECDSA
		if input = op.buf; op.h != nil {
			input = op.h.Sum(nil)
		} else if len(input) == 0 {
			return nil, ck.CKR_DATA_LEN_RANGE // CKM_ECDSA: a hash of 1 to 64 bytes
		}
	case isPSS(op.mech):
		scheme = card.SchemePSSSHA256
		if op.h != nil {
			input = op.h.Sum(nil)
		} else if input = op.buf; len(input) != 32 {
			return nil, ck.CKR_DATA_LEN_RANGE // the hash of CKM_RSA_PKCS_PSS: SHA-256, 32 bytes
		}
	case op.h != nil:
		hh, _ := hashOf(op.mech)
		input = digestInfo(hh, op.h.Sum(nil))
	default:
		input = op.buf
		if len(input) == 0 || len(input) > card.MaxDigestInfoSize {
			return nil, ck.CKR_DATA_LEN_RANGE
		}
	}
	if !s.cs.isLoggedIn(op.key) {
		return nil, ck.CKR_USER_NOT_LOGGED_IN
	}
	var sig []byte
	var pub crypto.PublicKey
	err := m.withCard(s.cs, func(c card.Generation) error {
		var err error
		sig, err = c.Sign(op.key, scheme, input)
		if e := s.cs.certs[op.key.CertFile()]; e != nil && e.cert != nil {
			pub = e.cert.Public()
		}
		return err
	})
	if err != nil {
		m.log.Info("signature failed", "reader", s.cs.reader, "key", op.key.String(), "err", err)
		return nil, m.fail(s, err)
	}
	if len(sig) != op.sigLen {
		m.log.Warn("card returned a signature of unexpected length", "got", len(sig), "want", op.sigLen)
		return nil, ck.CKR_DEVICE_ERROR
	}
	if err := checkSignature(scheme, pub, input, sig); err != nil {
		m.log.Warn("card returned a signature that does not verify with the certificate's public key",
			"reader", s.cs.reader, "key", op.key.String(), "err", err)
		return nil, ck.CKR_DEVICE_ERROR
	}
	return sig, nil
}

// VerifyInit starts a software verification with the token's public key.
func (m *Manager) VerifyInit(h ck.ULong, mech Mechanism, key ck.ULong) error {
	active := func(s *session) bool { return s.verify != nil }
	return m.keyOpInit(h, mech, key, objects.KindPublicKey, active, func(s *session, _ objects.Spec, _ *objects.Object) error {
		return m.verifyInit(s, mech)
	})
}

// keyOpInit makes the checks SignInit and VerifyInit share, in this order: the
// session, an operation already active, the mechanism and its parameter, the key
// handle and its kind; then it runs init with the session locked.
func (m *Manager) keyOpInit(h ck.ULong, mech Mechanism, key ck.ULong, kind objects.Kind,
	active func(*session) bool, init func(*session, objects.Spec, *objects.Object) error) error {
	s, err := m.get(h)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if active(s) {
		return ck.CKR_OPERATION_ACTIVE
	}
	if !isSignMech(mech.Type) {
		return ck.CKR_MECHANISM_INVALID
	}
	if err := mechFitsCard(s.cs.facts().alg, mech.Type); err != nil {
		return err
	}
	if err := checkParam(mech); err != nil {
		return err
	}
	spec, o, err := m.keyObject(s, key)
	if err != nil {
		return err
	}
	if spec.Kind != kind {
		return ck.CKR_KEY_FUNCTION_NOT_PERMITTED
	}
	return init(s, spec, o)
}

// verifyInit is VerifyInit once keyOpInit's checks passed (session locked).
func (m *Manager) verifyInit(s *session, mech Mechanism) error {
	var pub *rsa.PublicKey
	var ec *ecdsa.PublicKey
	err := m.withCard(s.cs, func(c card.Generation) error {
		e := s.cs.certs[keyOf(s.tok).CertFile()]
		if e == nil || e.cert == nil {
			return ck.CKR_KEY_HANDLE_INVALID
		}
		pub, ec = e.cert.Pub, e.cert.EC
		return nil
	})
	if err != nil {
		return m.fail(s, err)
	}
	s.verify = &verifyOp{signedData: newSignedData(mech.Type), mech: mech.Type, pub: pub, ec: ec}
	return nil
}

func (op *verifyOp) finish(sig []byte) error {
	if op.ec != nil {
		return op.finishECDSA(sig)
	}
	if len(sig) != op.pub.Size() {
		return ck.CKR_SIGNATURE_LEN_RANGE
	}
	if isPSS(op.mech) {
		digest := op.buf
		if op.h != nil {
			digest = op.h.Sum(nil)
		}
		if len(digest) != 32 {
			return ck.CKR_DATA_LEN_RANGE
		}
		if err := rsa.VerifyPSS(op.pub, crypto.SHA256, digest, sig, &rsa.PSSOptions{SaltLength: 32, Hash: crypto.SHA256}); err != nil {
			return ck.CKR_SIGNATURE_INVALID
		}
		return nil
	}
	var hh crypto.Hash
	var digest []byte
	if op.h != nil {
		hh, _ = hashOf(op.mech)
		digest = op.h.Sum(nil)
	} else {
		if len(op.buf) == 0 {
			return ck.CKR_DATA_LEN_RANGE
		}
		digest = op.buf // a DigestInfo: verified as given (hash 0)
	}
	if err := rsa.VerifyPKCS1v15(op.pub, hh, digest, sig); err != nil {
		return ck.CKR_SIGNATURE_INVALID
	}
	return nil
}

// Verify checks sig over data in one part and ends the operation.
func (m *Manager) Verify(h ck.ULong, data, sig []byte) error {
	return activeOp(m, h, verifyOf, func(_ *session, slot **verifyOp) error {
		op := *slot
		*slot = nil
		if op.multi {
			return ck.CKR_OPERATION_ACTIVE
		}
		if err := op.add(data); err != nil {
			return err
		}
		return op.finish(sig)
	})
}

// VerifyUpdate feeds one part of a multi-part verification.
func (m *Manager) VerifyUpdate(h ck.ULong, part []byte) error {
	return activeOp(m, h, verifyOf, func(_ *session, slot **verifyOp) error {
		(*slot).multi = true
		if err := (*slot).add(part); err != nil {
			*slot = nil
			return err
		}
		return nil
	})
}

// VerifyFinal ends a multi-part verification.
func (m *Manager) VerifyFinal(h ck.ULong, sig []byte) error {
	return activeOp(m, h, verifyOf, func(_ *session, slot **verifyOp) error {
		op := *slot
		*slot = nil
		return op.finish(sig)
	})
}

// DigestInit starts a digest on the host.
func (m *Manager) DigestInit(h ck.ULong, mech Mechanism) error {
	s, err := m.get(h)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.digest != nil {
		return ck.CKR_OPERATION_ACTIVE
	}
	hh, ok := hashOf(mech.Type)
	if !ok || isSignMech(mech.Type) {
		return ck.CKR_MECHANISM_INVALID
	}
	if err := checkParam(mech); err != nil {
		return err
	}
	s.digest = &digestOp{h: hh, state: hh.New()}
	return nil
}

// DigestLength is the digest's length (no work done).
func (m *Manager) DigestLength(h ck.ULong) (n int, err error) {
	err = activeOp(m, h, digestOf, func(_ *session, slot **digestOp) error {
		n = (*slot).h.Size()
		return nil
	})
	return n, err
}

// Digest hashes data in one part and ends the operation.
func (m *Manager) Digest(h ck.ULong, data []byte) (sum []byte, err error) {
	err = activeOp(m, h, digestOf, func(_ *session, slot **digestOp) error {
		op := *slot
		*slot = nil
		if op.multi {
			return ck.CKR_OPERATION_ACTIVE
		}
		op.state.Write(data)
		sum = op.state.Sum(nil)
		return nil
	})
	return sum, err
}

// DigestUpdate feeds one part of a multi-part digest.
func (m *Manager) DigestUpdate(h ck.ULong, part []byte) error {
	return activeOp(m, h, digestOf, func(_ *session, slot **digestOp) error {
		(*slot).multi = true
		(*slot).state.Write(part)
		return nil
	})
}

// DigestFinal ends a multi-part digest.
func (m *Manager) DigestFinal(h ck.ULong) (sum []byte, err error) {
	err = activeOp(m, h, digestOf, func(_ *session, slot **digestOp) error {
		sum = (*slot).state.Sum(nil)
		*slot = nil
		return nil
	})
	return sum, err
}

// GenerateRandom: the token has no RNG for PKCS#11 (CKF_RNG is not set): the
// card's GET CHALLENGE is not a vetted random source for callers' keys.
func (m *Manager) GenerateRandom(h ck.ULong, n int) ([]byte, error) {
	if _, err := m.get(h); err != nil {
		return nil, err
	}
	return nil, ck.CKR_RANDOM_NO_RNG
}
