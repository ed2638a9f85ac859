// ASSUMPTIONS: every command, file, reference and value the next generation is
// spoken to with. Nothing below is known about a real next-generation My Number
// Card: J-LIS has published neither its AIDs nor its APDUs (shared/JPKI.md §8).
// What is known is what the layers above need: ECDSA over P-384 with SHA-384,
// 10-year certificates, the applications regrouped into an "authentication AP"
// that holds everything needing a PIN (both keys, both certificates) and a
// card-face AP, two PINs. The values here are the ones the virtual
// next-generation card (vcard, `jpki-vcard new --generation next`) answers to,
// chosen to look like a plain ISO 7816-4/-8 card. Each is marked ASSUMPTION:
// replace it when the real one is published, and nothing else in this package
// (or above it) needs to change. Until then, LabelVirtual makes sure that no
// real card identifies as the next generation.

package nextgen

import "github.com/jpki-pkcs11/jpki-pkcs11/card"

// AID of the authentication AP. ASSUMPTION: a proprietary AID (ISO 7816-5
// category F, unregistered: F0 "JPKI-NG") that no real card answers; the real
// AP's AID is not public and may be anything, the JPKI AID D3 92 F0 00 26 01 00
// 00 00 01 may not exist on the card.
var AID = []byte{0xF0, 'J', 'P', 'K', 'I', '-', 'N', 'G'}

// Files of the authentication AP, selected by SELECT EF (P1 02) and read with
// READ BINARY (15-bit offset in P1 P2, Le up to 256). ASSUMPTION: file
// identifiers, contents and access rules. The access rules are today's: every
// file is free to read but the signature certificate, which needs the signature
// PIN (it carries the holder's name, address, birth date).
const (
	EFTokenInfo  uint16 = 0x0106 // first 32 bytes: the label, space padded (as EF 0006 today)
	EFPresence   uint16 = 0x0108 // 2 bytes: signature certificate present, authentication certificate present (non-zero = yes)
	EFAuthCert   uint16 = 0x0111 // user-authentication certificate (DER)
	EFAuthCACert uint16 = 0x0112 // its CA certificate
	EFSignCert   uint16 = 0x0121 // digital-signature certificate: only after the signature PIN
	EFSignCACert uint16 = 0x0122 // its CA certificate
)

// LabelVirtual is the label (EF 0106) a card must show to identify as the next
// generation. ASSUMPTION, and a deliberate one: it is the virtual card's own
// label, which no real card has, so that no real card is sent the assumed
// commands below. Replace it with the real label (or drop the check) only
// together with the real commands. A card that answers the AID with another
// label is reported as card.ErrNotYetSupported.
const LabelVirtual = "JPKI NEXT GENERATION (VIRTUAL)"

// PIN references: VERIFY (INS 20) and CHANGE REFERENCE DATA (INS 24) name the PIN
// in P2 = 80 | reference, with no SELECT. ASSUMPTION: references, and that the
// card answers as today's (63 Cx wrong PIN with x tries left, 69 84 blocked, an
// empty VERIFY tells the tries left without spending one, CHANGE REFERENCE DATA
// P1 01 with the new PIN after a VERIFY of the old one), with the same two PINs
// (4 digits, 3 tries; 6 to 16 of A-Z 0-9, 5 tries).
const (
	PINRefAuth byte = 0x81
	PINRefSign byte = 0x82
)

// Key references of MSE:SET DST (tag 84). ASSUMPTION.
const (
	KeyRefAuth byte = 0x01
	KeyRefSign byte = 0x02
)

// The signature: ISO 7816-8 MSE:SET for the digital signature template naming the
// key (00 22 41 B6 03 84 01 <key reference>), then PERFORM SECURITY OPERATION:
// COMPUTE DIGITAL SIGNATURE over a hash given by the host (00 2A 9E 9A Lc <hash>
// 00), answered by r||s (2 x 48 bytes). ASSUMPTION: the two commands, that the
// security environment lasts until the AP is selected again or the card reset
// (as the verified PINs), that the card takes a hash of 1 to 64 bytes (truncating
// it to 48 as ECDSA does), that it signs only after the key's PIN (69 82 before)
// and that it answers plain r||s (not DER).
const (
	MSESetP1, MSESetP2 byte = 0x41, 0xB6 // MSE:SET, digital signature template
	PSOCDSP1, PSOCDSP2 byte = 0x9E, 0x9A // PSO: COMPUTE DIGITAL SIGNATURE
	TagKeyRef          byte = 0x84       // MSE:SET data: key reference
	SignatureSize           = 96         // r||s on P-384
)

// The command APDUs, built from the values above (and only here).

func selectAP() card.Command {
	return card.Command{CLA: 0x00, INS: 0xA4, P1: 0x04, P2: 0x0C, Data: AID}
}

func selectEF(fid uint16) card.Command {
	return card.Command{CLA: 0x00, INS: 0xA4, P1: 0x02, P2: 0x0C, Data: []byte{byte(fid >> 8), byte(fid)}}
}

func readBinary(off, n int) card.Command {
	return card.Command{CLA: 0x00, INS: 0xB0, P1: byte(off >> 8), P2: byte(off), Le: n}
}

// verify sends pin (nil: ask the tries left) for the PIN reference ref.
func verify(ref byte, pin []byte) card.Command {
	return card.Command{CLA: 0x00, INS: 0x20, P1: 0x00, P2: ref, Data: pin}
}

func changePIN(ref byte, newPIN []byte) card.Command {
	return card.Command{CLA: 0x00, INS: 0x24, P1: 0x01, P2: ref, Data: newPIN}
}

func setKey(ref byte) card.Command {
	return card.Command{CLA: 0x00, INS: 0x22, P1: MSESetP1, P2: MSESetP2, Data: []byte{TagKeyRef, 0x01, ref}}
}

func computeSignature(hash []byte) card.Command {
	return card.Command{CLA: 0x00, INS: 0x2A, P1: PSOCDSP1, P2: PSOCDSP2, Data: hash, Le: 256}
}

// certFile maps the certificate names of card.Generation (today's EFs) to the
// files of the authentication AP.
func certFile(ef uint16) (uint16, bool) {
	switch ef {
	case card.EFAuthCert:
		return EFAuthCert, true
	case card.EFAuthCACert:
		return EFAuthCACert, true
	case card.EFSignCert:
		return EFSignCert, true
	case card.EFSignCACert:
		return EFSignCACert, true
	}
	return 0, false
}

// PINRef is the PIN reference of key k; KeyRef its key reference.
func PINRef(k card.Key) byte {
	if k == card.SignKey {
		return PINRefSign
	}
	return PINRefAuth
}

// KeyRef is the key reference of key k in MSE:SET.
func KeyRef(k card.Key) byte {
	if k == card.SignKey {
		return KeyRefSign
	}
	return KeyRefAuth
}
