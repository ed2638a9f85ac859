package session

import (
	"crypto"
	_ "crypto/sha1" // registers SHA-1
	_ "crypto/sha256"
	_ "crypto/sha512"
	"slices"

	"github.com/jpki-pkcs11/jpki-pkcs11/card"
	"github.com/jpki-pkcs11/jpki-pkcs11/ck"
	"github.com/jpki-pkcs11/jpki-pkcs11/objects"
)

// keyBits is the size of every JPKI key today.
const keyBits = 2048

// signMechs are the signature mechanisms of the card's keys, in the order listed.
var signMechs = []ck.ULong{ck.CKM_RSA_PKCS, ck.CKM_SHA1_RSA_PKCS, ck.CKM_SHA224_RSA_PKCS,
	ck.CKM_SHA256_RSA_PKCS, ck.CKM_SHA384_RSA_PKCS, ck.CKM_SHA512_RSA_PKCS}

// pssMechs are the RSASSA-PSS mechanisms (card scheme 04: SHA-256, MGF1-SHA-256,
// salt 32), offered only when the card knows the scheme.
var pssMechs = []ck.ULong{ck.CKM_RSA_PKCS_PSS, ck.CKM_SHA256_RSA_PKCS_PSS}

// ecdsaMechs are the signature mechanisms of ECDSA keys (the next generation),
// in the order listed: CKM_ECDSA over a hash the caller made, and hash-and-sign
// with SHA-256, SHA-384 (the generation's own) and SHA-512.
var ecdsaMechs = []ck.ULong{ck.CKM_ECDSA, ck.CKM_ECDSA_SHA256, ck.CKM_ECDSA_SHA384, ck.CKM_ECDSA_SHA512}

// ecdsaHash is the hash of each ECDSA hash-and-sign mechanism.
var ecdsaHash = map[ck.ULong]crypto.Hash{ck.CKM_ECDSA_SHA256: crypto.SHA256, ck.CKM_ECDSA_SHA384: crypto.SHA384,
	ck.CKM_ECDSA_SHA512: crypto.SHA512}

// ecKeyBits is the key size of the next generation's keys (P-384): the
// CK_MECHANISM_INFO key size of an ECDSA mechanism, in bits of the curve.
const ecKeyBits = 384

// digestMechs are the digests done on the host.
var digestMechs = []ck.ULong{ck.CKM_SHA_1, ck.CKM_SHA224, ck.CKM_SHA256, ck.CKM_SHA384, ck.CKM_SHA512}

// hashOf gives the hash of a hash-and-sign mechanism or a digest mechanism;
// ok is false for CKM_RSA_PKCS (no hash) and unknown mechanisms.
func hashOf(mech ck.ULong) (crypto.Hash, bool) {
	if h, ok := ecdsaHash[mech]; ok {
		return h, true
	}
	switch mech {
	case ck.CKM_SHA1_RSA_PKCS, ck.CKM_SHA_1:
		return crypto.SHA1, true
	case ck.CKM_SHA224_RSA_PKCS, ck.CKM_SHA224:
		return crypto.SHA224, true
	case ck.CKM_SHA256_RSA_PKCS, ck.CKM_SHA256, ck.CKM_SHA256_RSA_PKCS_PSS:
		return crypto.SHA256, true
	case ck.CKM_SHA384_RSA_PKCS, ck.CKM_SHA384:
		return crypto.SHA384, true
	case ck.CKM_SHA512_RSA_PKCS, ck.CKM_SHA512:
		return crypto.SHA512, true
	}
	return 0, false
}

// digestInfoPrefix is the DER DigestInfo header before the hash (RFC 8017 §9.2 note 1).
var digestInfoPrefix = map[crypto.Hash][]byte{
	crypto.SHA1:   {0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14},
	crypto.SHA224: {0x30, 0x2d, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x04, 0x05, 0x00, 0x04, 0x1c},
	crypto.SHA256: {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20},
	crypto.SHA384: {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30},
	crypto.SHA512: {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40},
}

// digestInfo wraps a hash value in its DER DigestInfo.
func digestInfo(h crypto.Hash, sum []byte) []byte {
	return append(append([]byte(nil), digestInfoPrefix[h]...), sum...)
}

func isSignMech(mech ck.ULong) bool {
	return slices.Contains(signMechs, mech) || isPSS(mech) || isECDSA(mech)
}

func isECDSA(mech ck.ULong) bool { return slices.Contains(ecdsaMechs, mech) }

func isPSS(mech ck.ULong) bool { return slices.Contains(pssMechs, mech) }

// mechanismsFor is CKA_ALLOWED_MECHANISMS of a key object.
func mechanismsFor(k objects.Kind, pss bool) []ck.ULong {
	if k != objects.KindPublicKey && k != objects.KindPrivateKey {
		return nil
	}
	if pss {
		return append(slices.Clone(signMechs), pssMechs...)
	}
	return signMechs
}

// pssParams checks CK_RSA_PKCS_PSS_PARAMS (three CK_ULONGs in native layout):
// only what the card does is accepted: SHA-256, MGF1-SHA-256, salt of 32 bytes.
func pssParams(param []byte) error {
	if len(param) != 3*ck.ULongSize {
		return ck.CKR_MECHANISM_PARAM_INVALID
	}
	h, _ := ck.DecodeULong(param[:ck.ULongSize])
	mgf, _ := ck.DecodeULong(param[ck.ULongSize : 2*ck.ULongSize])
	sLen, _ := ck.DecodeULong(param[2*ck.ULongSize:])
	if h != ck.CKM_SHA256 || mgf != ck.CKG_MGF1_SHA256 || sLen != 32 {
		return ck.CKR_MECHANISM_PARAM_INVALID
	}
	return nil
}

// PSSParams encodes CK_RSA_PKCS_PSS_PARAMS (for callers and tests).
func PSSParams(hashAlg, mgf, sLen ck.ULong) []byte {
	return append(append(ck.EncodeULong(hashAlg), ck.EncodeULong(mgf)...), ck.EncodeULong(sLen)...)
}

// checkParam checks the mechanism's parameter: none for PKCS#1 v1.5 and digests.
func checkParam(mech Mechanism) error {
	if isPSS(mech.Type) {
		return pssParams(mech.Param)
	}
	if len(mech.Param) != 0 {
		return ck.CKR_MECHANISM_PARAM_INVALID
	}
	return nil
}

// pssSupported tells (probing the card once per insertion, no PIN) whether the
// card signs with RSASSA-PSS.
func (m *Manager) pssSupported(cs *cardState, t objects.Token) (bool, error) {
	var ok bool
	err := m.withCard(cs, func(c card.Generation) error {
		var err error
		ok, err = cs.probePSS(c, keyOf(t))
		return err
	})
	return ok, err
}

// Mechanisms lists the mechanisms of the slot's token.
func (m *Manager) Mechanisms(slot ck.ULong) ([]ck.ULong, error) {
	cs, t, f, err := m.token(slot)
	if err != nil {
		return nil, err
	}
	if f.alg == card.ECDSAP384 {
		return append(slices.Clone(ecdsaMechs), digestMechs...), nil
	}
	pss, err := m.pssSupported(cs, t)
	if err != nil {
		return nil, rvOf(err)
	}
	mechs := mechanismsFor(objects.KindPrivateKey, pss)
	if pss && contextLogin(t) {
		mechs = slices.DeleteFunc(slices.Clone(mechs), func(x ck.ULong) bool { return x == ck.CKM_SHA256_RSA_PKCS_PSS })
	}
	return append(mechs, digestMechs...), nil
}

// contextLogin reports whether the private key of token t is
// CKA_ALWAYS_AUTHENTICATE (a C_Login(CKU_CONTEXT_SPECIFIC) before each signature).
//
// On such a token CKM_SHA256_RSA_PKCS_PSS is accepted (C_SignInit, single- and
// multi-part) but neither listed nor described (C_GetMechanismInfo answers
// CKR_MECHANISM_INVALID: NSS asks it directly). NSS signs a TLS 1.3
// CertificateVerify through a streaming context with the hash-and-sign mechanism
// when the token describes it (SGN_Begin: PK11_CreateContextByPrivKey), and that
// path never does the context-specific login, so the signature would fail with
// CKR_USER_NOT_LOGGED_IN. Without it NSS hashes itself and signs with
// CKM_RSA_PKCS_PSS through PK11_SignWithMechanism, which logs in for the context
// (docs/TLS13.md).
func contextLogin(t objects.Token) bool {
	for _, s := range objects.Layout(t) {
		if s.Kind == objects.KindPrivateKey {
			return s.AlwaysAuth
		}
	}
	return false
}

// MechanismInfo describes one mechanism: signatures on the card (CKF_HW) with
// verification in software, 2048-bit keys; digests on the host.
func (m *Manager) MechanismInfo(slot, mech ck.ULong) (MechanismInfo, error) {
	cs, t, f, err := m.token(slot)
	if err != nil {
		return MechanismInfo{}, err
	}
	if isECDSA(mech) || f.alg == card.ECDSAP384 && isSignMech(mech) {
		return m.ecdsaInfo(f, t, mech)
	}
	if isPSS(mech) {
		if pss, err := m.pssSupported(cs, t); err != nil {
			return MechanismInfo{}, rvOf(err)
		} else if !pss || mech == ck.CKM_SHA256_RSA_PKCS_PSS && contextLogin(t) {
			return MechanismInfo{}, ck.CKR_MECHANISM_INVALID // not listed (see contextLogin)
		}
	}
	if isSignMech(mech) {
		return MechanismInfo{MinKeySize: keyBits, MaxKeySize: keyBits, Flags: ck.CKF_HW | ck.CKF_SIGN | ck.CKF_VERIFY}, nil
	}
	if _, ok := hashOf(mech); ok {
		return MechanismInfo{Flags: ck.CKF_DIGEST}, nil
	}
	return MechanismInfo{}, ck.CKR_MECHANISM_INVALID
}

// ecdsaInfo describes an ECDSA mechanism: on the card's P-384 key (CKF_HW),
// verification in software, named curves over F_p with uncompressed points;
// CKR_MECHANISM_INVALID on an RSA card and for RSA mechanisms on an ECDSA card.
//
// On a token whose key is CKA_ALWAYS_AUTHENTICATE the hash-and-sign mechanisms
// are listed and accepted by C_SignInit, but described without CKF_SIGN (as
// CKM_SHA256_RSA_PKCS_PSS is not described, see contextLogin): NSS signs a TLS
// 1.3 CertificateVerify through a streaming context with the hash-and-sign
// mechanism when the token's C_GetMechanismInfo has CKF_SIGN
// (sgn_CreateCombinedContext: PK11_DoesMechanismFlag), and that path never does
// the context-specific login. Without it NSS hashes itself and signs with
// CKM_ECDSA through PK11_Sign, which logs in for the context: one PIN prompt.
func (m *Manager) ecdsaInfo(f facts, t objects.Token, mech ck.ULong) (MechanismInfo, error) {
	if f.alg != card.ECDSAP384 || !isECDSA(mech) {
		return MechanismInfo{}, ck.CKR_MECHANISM_INVALID
	}
	flags := ck.CKF_HW | ck.CKF_SIGN | ck.CKF_VERIFY | ck.CKF_EC_F_P | ck.CKF_EC_OID | ck.CKF_EC_UNCOMPRESS
	if mech != ck.CKM_ECDSA && contextLogin(t) {
		flags &^= ck.CKF_SIGN
	}
	return MechanismInfo{MinKeySize: ecKeyBits, MaxKeySize: ecKeyBits, Flags: flags}, nil
}
