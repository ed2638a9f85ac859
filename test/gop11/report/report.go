// Package report is the JSON that test/gop11/cmd/gop11 `list` prints and
// test/gop11 reads: the tokens a Go PKCS#11 client (miekg/pkcs11) sees.
package report

import "encoding/binary"

// Token is what `list` reports of one token.
type Token struct {
	Slot      uint     `json:"slot"`
	Label     string   `json:"label"`
	Serial    string   `json:"serial"`
	Model     string   `json:"model"`
	Flags     uint     `json:"flags"`
	MinPin    uint     `json:"minPin"`
	MaxPin    uint     `json:"maxPin"`
	Mechs     []uint   `json:"mechanisms"`
	Objects   []Object `json:"objects"`
	SlotFlags uint     `json:"slotFlags"`
}

// Object is one object and its attributes (by name: "CLASS", "ID", ...); Errors
// holds the attributes the module refused, by name, with the CKR name.
type Object struct {
	Attrs  map[string][]byte `json:"attrs"`
	Errors map[string]string `json:"errors"`
}

// Ulong is the CK_ULONG attribute name (little-endian, 8 bytes); false when absent
// or not 8 bytes long.
func (o Object) Ulong(name string) (uint64, bool) {
	v, ok := o.Attrs[name]
	if !ok || len(v) != 8 {
		return 0, false
	}
	return binary.LittleEndian.Uint64(v), true
}

// Bool is the CK_BBOOL attribute name; false when absent or not 1 byte long.
func (o Object) Bool(name string) (bool, bool) {
	v, ok := o.Attrs[name]
	if !ok || len(v) != 1 {
		return false, false
	}
	return v[0] != 0, true
}
