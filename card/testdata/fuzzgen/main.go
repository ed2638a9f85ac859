// Command fuzzgen writes the committed seed corpora of the fuzz targets
// (testdata/fuzz/FuzzXxx/ in `go test fuzz v1` format) from real structures: the
// JPKI root certificates (shared/jpki-ca/*.pem), the certificates and a session
// transcript of a virtual card (vcard), and crafted edge cases.
//
//	go run ./card/testdata/fuzzgen -ca ../shared/jpki-ca   (from the repository root)
//
// It lives under testdata so `go build ./...` and `go vet ./...` leave it alone.
package main

import (
	"crypto/x509"
	"encoding/pem"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/jpki-pkcs11/jpki-pkcs11/card"
	"github.com/jpki-pkcs11/jpki-pkcs11/vcard"
)

func main() {
	caDir := flag.String("ca", "../shared/jpki-ca", "folder of the JPKI root certificates (PEM)")
	flag.Parse()
	var ders [][]byte
	names, _ := filepath.Glob(filepath.Join(*caDir, "*.pem"))
	sort.Strings(names)
	if len(names) == 0 {
		log.Fatalf("no PEM files in %s", *caDir)
	}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			log.Fatal(err)
		}
		blk, _ := pem.Decode(b)
		if blk == nil {
			log.Fatalf("%s: not PEM", n)
		}
		ders = append(ders, blk.Bytes)
	}
	vc, err := vcard.NewInMemory(vcard.Options{Name: "署名 花子", NameAlt: "ショメイ ハナコ", Sex: "2", AddressAlt: "トウキョウト"})
	if err != nil {
		log.Fatal(err)
	}
	st := vc.Status()
	ders = append(ders, st.AuthCert, st.AuthCA, st.SignCert, st.SignCA)
	var sans [][]byte
	for _, d := range ders {
		c, err := x509.ParseCertificate(d)
		if err != nil {
			log.Fatal(err)
		}
		for _, e := range c.Extensions {
			if e.Id.String() == "2.5.29.17" {
				sans = append(sans, e.Value)
			}
		}
	}

	// card: the file parsers and the hostile-card targets.
	for i, d := range ders {
		write("card", "FuzzReadFile", fmt.Sprintf("cert-%d", i), d, []byte{})
		write("card", "FuzzReadFile", fmt.Sprintf("cert-%d-truncated", i), d[:len(d)/2], []byte{})
		write("card", "FuzzReadFile", fmt.Sprintf("cert-%d-quirks", i), d, []byte{0, 0, 0, 0x85, 0x03, 0x01, 0x6B, 0x00})
		long := append([]byte{0x30, 0x82, 0x7F, 0xFF}, d[4:]...) // header pointing past the file
		write("card", "FuzzReadFile", fmt.Sprintf("cert-%d-past-end", i), long, []byte{})
		write("card", "FuzzDERLength", fmt.Sprintf("cert-%d", i), d[:7])
		resp := append(append([]byte(nil), d[:min(256, len(d))]...), 0x90, 0x00)
		write("card", "FuzzParseResponse", fmt.Sprintf("cert-%d", i), resp)
	}
	for i, h := range [][]byte{{0x30, 0x82, 0x7F, 0xFF, 0, 0, 0}, {0x30, 0x84, 0x00, 0x00, 0x7F, 0xFF, 0}, {0x30, 0x80, 0, 0},
		{0x3F, 0x82, 0x01, 0x00}, {0x30, 0x82}, {0x30, 0x81, 0x7F}, {0x30, 0x82, 0x80, 0x00}} {
		write("card", "FuzzDERLength", fmt.Sprintf("crafted-%d", i), h)
	}
	for i, r := range [][]byte{{0x63, 0xC0}, {0x63, 0xCF}, {0x69, 0x84}, {0x61, 0x10}, {0x6C, 0x20}, {0x62, 0x82}, {0x00, 0x00}, {0xFF, 0xFF}} {
		write("card", "FuzzParseResponse", fmt.Sprintf("sw-%d", i), r)
	}
	ti := readEF(vc, card.EFTokenInfo)
	pr := readEF(vc, card.EFPresence)
	write("card", "FuzzTokenInfo", "virtual", ti, pr)
	for i, l := range []string{card.LabelJuki, card.LabelAndroid, card.LabelIPhone, "JPKIAPICCTOKEN2\x00\x00\x00", "\xe3\x83\x9eJPKI\tX\x7f"} {
		write("card", "FuzzTokenInfo", fmt.Sprintf("label-%d", i), []byte(l), []byte{0, 1})
	}
	write("card", "FuzzIdentify", "virtual", ti, pr, []byte{}, byte(0))
	write("card", "FuzzIdentify", "no-presence-ef", ti, []byte{}, []byte{0, 0, 0, 0, 0x01, 0x6A, 0x82}, byte(0))
	write("card", "FuzzIdentify", "no-ap", ti, pr, []byte{0x01, 0x6A, 0x82}, byte(0))
	write("card", "FuzzIdentify", "reset-twice", ti, pr, []byte{0, 0, 0x0C}, byte(2))
	write("card", "FuzzHostileOps", "session", []byte{0, 1, 3, 4, 6, 0x81, 0x84, 0x86, 0x81, 7, 0x87}, []byte{})
	write("card", "FuzzHostileOps", "wrong-pin-ok-sw", []byte{4, 6, 4, 6}, []byte{0, 0, 0x01, 0x90, 0x00, 0, 0x02, 0x63, 0xC0})
	write("card", "FuzzHostileOps", "removed", []byte{4, 6, 0, 4, 6}, []byte{0x80, 0, 0, 0x07, 0x0F})

	// vcard: realistic command sequences (from the card layer's own APDUs).
	ap := apdu("00A4040C0A D392F000260100000001")
	sessions := map[string][][]byte{
		"read-auth-cert": {ap, apdu("00A4020C02 000A"), apdu("00B0000007"), apdu("00B0000700"), apdu("00B0010700")},
		"verify-auth":    {ap, apdu("00A4020C02 0018"), apdu("00200080"), apdu("00200080 04 31323334"), apdu("00A4020C02 0017"), apdu("802A008033" + strings.Repeat("00", 51) + "00")},
		"verify-wrong":   {ap, apdu("00A4020C02 001B"), apdu("00200080 06 414243313234"), apdu("00200080")},
		"change-pin":     {ap, apdu("00A4020C02 0018"), apdu("00200080 04 31323334"), apdu("00240180 04 35363738")},
		"sign-pss-sfi":   {ap, apdu("0020009B 06 414243313233"), apdu("802A049A20" + strings.Repeat("11", 32) + "00"), apdu("00B0810004")},
		"offsets":        {ap, apdu("00A4020C02 000B"), apdu("00B07FFF01"), apdu("00B0800001"), apdu("00B08B0010"), apdu("00B0000000")},
		"hostile":        {apdu("00A40400"), apdu("00A4040C00"), apdu("00B0"), apdu("0020008011"), apdu("80CA9F7F00"), apdu("0084000000")},
	}
	keys := make([]string, 0, len(sessions))
	for k := range sessions {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		var script []byte
		for _, c := range sessions[k] {
			script = append(append(script, byte(len(c))), c...)
		}
		write("vcard", "FuzzProcess", k, script)
	}
	for i, s := range sans {
		write("vcard", "FuzzSubjectAltNames", fmt.Sprintf("san-%d", i), s)
		write("internal/cli/certinfo", "FuzzHolderOf", fmt.Sprintf("san-%d", i), s)
	}

	// objects: certificates as a hostile card would hand them over.
	for i, d := range ders {
		write("objects", "FuzzCertificateObjects", fmt.Sprintf("cert-%d", i), d)
		write("objects", "FuzzCertificateObjects", fmt.Sprintf("cert-%d-truncated", i), d[:len(d)-1])
		write("objects", "FuzzSerialFromHead", fmt.Sprintf("cert-%d", i), d[:32])
	}
}

// readEF reads a whole EF of the virtual card with plain APDUs.
func readEF(vc *vcard.Card, ef uint16) []byte {
	vc.Process(apdu("00A4040C0A D392F000260100000001"))
	vc.Process([]byte{0x00, 0xA4, 0x02, 0x0C, 0x02, byte(ef >> 8), byte(ef)})
	r := vc.Process(apdu("00B0000000"))
	return r[:len(r)-2]
}

func apdu(h string) []byte {
	h = strings.ReplaceAll(h, " ", "")
	b := make([]byte, len(h)/2)
	for i := range b {
		v, err := strconv.ParseUint(h[2*i:2*i+2], 16, 8)
		if err != nil {
			log.Fatalf("hex %q: %v", h, err)
		}
		b[i] = byte(v)
	}
	return b
}

// write stores one corpus entry named after its tag, so reruns overwrite.
func write(pkg, target, tag string, args ...any) {
	var sb strings.Builder
	sb.WriteString("go test fuzz v1\n")
	for _, a := range args {
		switch v := a.(type) {
		case []byte:
			fmt.Fprintf(&sb, "[]byte(%s)\n", strconv.Quote(string(v)))
		case byte:
			fmt.Fprintf(&sb, "byte(%s)\n", strconv.QuoteRune(rune(v)))
		default:
			log.Fatalf("type %T", a)
		}
	}
	dir := filepath.Join(pkg, "testdata", "fuzz", target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		log.Fatal(err)
	}
	name := "seed-" + tag
	if err := os.WriteFile(filepath.Join(dir, name), []byte(sb.String()), 0o644); err != nil {
		log.Fatal(err)
	}
}
