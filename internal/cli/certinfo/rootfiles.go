package certinfo

import (
	"encoding/pem"
	"strings"
)

// Root is one real JPKI root CA certificate the project carries.
type Root struct {
	Name string // file name without .pem: auth_ca_2015, sign_ca_2023, ...
	DER  []byte
}

// JPKIRootCerts returns every real JPKI root CA certificate (roots/*.pem), in
// file name order.
func JPKIRootCerts() []Root {
	var out []Root
	files, _ := rootFS.ReadDir("roots")
	for _, f := range files {
		b, err := rootFS.ReadFile("roots/" + f.Name())
		if err != nil {
			continue
		}
		if blk, _ := pem.Decode(b); blk != nil && blk.Type == "CERTIFICATE" {
			out = append(out, Root{Name: strings.TrimSuffix(f.Name(), ".pem"), DER: blk.Bytes})
		}
	}
	return out
}
