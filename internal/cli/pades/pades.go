// Package pades signs PDF documents with a PAdES baseline B-B signature
// (ETSI EN 319 142-1): SubFilter ETSI.CAdES.detached, a CMS SignedData over the
// byte ranges with the content-type, message-digest and ESS signing-certificate-v2
// signed attributes, the signer certificate and its chain embedded.
//
// The PDF incremental update (signature dictionary, field, catalog, cross
// references) is laid out by github.com/digitorus/pdfsign with a stand-in signer;
// this package then sets the SubFilter and puts in the CAdES signature made by the
// real signer over the final byte ranges. The real signer signs exactly once.
package pades

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/digitorus/pdf"
	"github.com/digitorus/pdfsign/sign"
	"github.com/digitorus/pkcs7"
)

// Info is what the signature dictionary says about the signing.
type Info struct {
	Reason, Location, ContactInfo string
	Time                          time.Time // the M entry: the claimed signing time
}

var (
	subFilterLib            = []byte("/SubFilter /adbe.pkcs7.detached")
	subFilterPAdES          = []byte("/SubFilter /ETSI.CAdES.detached") // same length: offsets do not move
	oidSigningCertificateV2 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 47}
)

// Check tells whether doc is a PDF this package can sign, without signing.
func Check(doc []byte) error {
	if _, err := pdf.NewReader(bytes.NewReader(doc), int64(len(doc))); err != nil {
		return fmt.Errorf("pades: not a PDF this tool can read: %w", err)
	}
	return nil
}

// Sign returns doc with a PAdES B-B approval signature appended as an incremental
// update. chain is the signer certificate followed by its issuers (at least the
// signer certificate). signer must sign SHA-256 digests with PKCS#1 v1.5 (an RSA
// key) or SHA-384 digests with ECDSA (an ECDSA key: the next card generation).
func Sign(doc []byte, signer crypto.Signer, chain []*x509.Certificate, info Info) ([]byte, error) {
	if len(chain) == 0 {
		return nil, errors.New("pades: no signer certificate")
	}
	rdr, err := pdf.NewReader(bytes.NewReader(doc), int64(len(doc)))
	if err != nil {
		return nil, fmt.Errorf("pades: not a PDF this tool can read: %w", err)
	}
	var laid bytes.Buffer
	err = sign.Sign(bytes.NewReader(doc), &laid, rdr, int64(len(doc)), sign.SignData{
		Signature: sign.SignDataSignature{
			CertType:   sign.ApprovalSignature,
			DocMDPPerm: sign.AllowFillingExistingFormFieldsAndSignaturesPerms,
			Info: sign.SignDataSignatureInfo{
				Reason: info.Reason, Location: info.Location, ContactInfo: info.ContactInfo, Date: info.Time,
			},
		},
		Signer:            standIn{signer.Public()},
		DigestAlgorithm:   digestFor(signer.Public()),
		Certificate:       chain[0],
		CertificateChains: [][]*x509.Certificate{chain},
	})
	if err != nil {
		return nil, fmt.Errorf("pades: laying out the signature: %w", err)
	}
	out := laid.Bytes()
	if len(out) <= len(doc) || !bytes.Equal(out[:len(doc)], doc) {
		return nil, errors.New("pades: the update does not start with the original document")
	}
	if err := setSubFilter(out[len(doc):]); err != nil {
		return nil, err
	}
	br, err := byteRange(out, len(doc))
	if err != nil {
		return nil, err
	}
	signed := make([]byte, 0, br[1]+br[3])
	signed = append(signed, out[br[0]:br[0]+br[1]]...)
	signed = append(signed, out[br[2]:br[2]+br[3]]...)
	cms, err := signCAdES(signed, signer, chain)
	if err != nil {
		return nil, err
	}
	room := br[2] - br[1] - 2 // hex digits between < and >
	h := hex.EncodeToString(cms)
	if len(h) > room {
		return nil, fmt.Errorf("pades: signature of %d hex digits does not fit the %d reserved", len(h), room)
	}
	copy(out[br[1]+1:], h)
	return out, nil
}

// setSubFilter replaces the one library SubFilter in the update with the PAdES one.
func setSubFilter(update []byte) error {
	if n := bytes.Count(update, subFilterLib); n != 1 {
		return fmt.Errorf("pades: %d signature dictionaries with /SubFilter in the update, want 1", n)
	}
	i := bytes.Index(update, subFilterLib)
	copy(update[i:], subFilterPAdES)
	return nil
}

// byteRange reads and checks the new signature's /ByteRange: it must cover the
// whole file except the /Contents hex string.
func byteRange(out []byte, from int) ([4]int, error) {
	var br [4]int
	i := bytes.Index(out[from:], []byte("/ByteRange ["))
	if i < 0 {
		return br, errors.New("pades: no /ByteRange in the update")
	}
	if _, err := fmt.Sscanf(string(out[from+i+len("/ByteRange "):]), "[%d %d %d %d]", &br[0], &br[1], &br[2], &br[3]); err != nil {
		return br, fmt.Errorf("pades: /ByteRange: %w", err)
	}
	ok := br[0] == 0 && br[1] > from && br[2] > br[1]+2 && br[2]+br[3] == len(out) &&
		out[br[1]] == '<' && out[br[2]-1] == '>'
	if !ok {
		return br, fmt.Errorf("pades: /ByteRange %v does not frame the /Contents of a %d-byte file", br, len(out))
	}
	return br, nil
}

// signCAdES makes the detached CMS SignedData over data: SHA-256, signed attributes
// content-type, message-digest, signing-time (added by the CMS library) and ESS
// signing-certificate-v2; the certificates of chain embedded.
func signCAdES(data []byte, signer crypto.Signer, chain []*x509.Certificate) ([]byte, error) {
	sd, err := pkcs7.NewSignedData(data)
	if err != nil {
		return nil, err
	}
	sd.SetDigestAlgorithm(pkcs7.OIDDigestAlgorithmSHA256)
	if digestFor(signer.Public()) == crypto.SHA384 {
		sd.SetDigestAlgorithm(pkcs7.OIDDigestAlgorithmSHA384)
	}
	essCert, err := signingCertificateV2(chain[0])
	if err != nil {
		return nil, err
	}
	cfg := pkcs7.SignerInfoConfig{ExtraSignedAttributes: []pkcs7.Attribute{essCert}}
	if err := sd.AddSigner(chain[0], signer, cfg); err != nil {
		return nil, fmt.Errorf("pades: signing: %w", err)
	}
	for _, c := range chain[1:] {
		sd.AddCertificate(c)
	}
	sd.Detach()
	return sd.Finish()
}

// signingCertificateV2 is the ESS signing-certificate-v2 attribute (RFC 5035) for
// cert with the default hash, SHA-256.
func signingCertificateV2(cert *x509.Certificate) (pkcs7.Attribute, error) {
	type essCertIDv2 struct{ CertHash []byte }
	type signingCertificate struct{ Certs []essCertIDv2 }
	h := sha256.Sum256(cert.Raw)
	der, err := asn1.Marshal(signingCertificate{Certs: []essCertIDv2{{CertHash: h[:]}}})
	if err != nil {
		return pkcs7.Attribute{}, err
	}
	return pkcs7.Attribute{Type: oidSigningCertificateV2, Value: asn1.RawValue{FullBytes: der}}, nil
}

// standIn lets the PDF library lay out the signature without using the card:
// it returns zeros of the key's size.
type standIn struct{ pub crypto.PublicKey }

func (s standIn) Public() crypto.PublicKey { return s.pub }

func (s standIn) Sign(_ io.Reader, _ []byte, _ crypto.SignerOpts) ([]byte, error) {
	type sizer interface{ Size() int }
	n := 256
	switch k := s.pub.(type) {
	case *ecdsa.PublicKey:
		// the longest ASN.1 ECDSA-Sig-Value: a SEQUENCE of two INTEGERs of
		// the order's length plus a sign byte
		l := (k.Curve.Params().N.BitLen()+7)/8 + 1
		n = 2*(2+l) + 3
	case sizer:
		n = k.Size()
	}
	return make([]byte, n), nil
}

// digestFor is the digest of a signature with pub: SHA-384 for an ECDSA key
// (the next generation's profile), SHA-256 otherwise.
func digestFor(pub crypto.PublicKey) crypto.Hash {
	if _, ok := pub.(*ecdsa.PublicKey); ok {
		return crypto.SHA384
	}
	return crypto.SHA256
}
