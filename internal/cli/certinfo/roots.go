package certinfo

import (
	"crypto/x509"
	"embed"
	"encoding/pem"
	"fmt"
	"os"
)

// The real JPKI root CAs (public data published by J-LIS), every generation we
// have; all generations share one DN, so chains are built by signature.
//
//go:embed roots/*.pem
var rootFS embed.FS

// JPKIRoots returns a pool with the real JPKI root CAs.
func JPKIRoots() *x509.CertPool {
	pool := x509.NewCertPool()
	files, _ := rootFS.ReadDir("roots")
	for _, f := range files {
		b, err := rootFS.ReadFile("roots/" + f.Name())
		if err == nil {
			pool.AppendCertsFromPEM(b)
		}
	}
	return pool
}

// LoadCerts reads one or more certificates from a PEM or DER file.
func LoadCerts(path string) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseCerts(b)
}

// ParseCerts parses PEM (any number of CERTIFICATE blocks) or one DER certificate.
func ParseCerts(b []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	rest := b
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) > 0 {
		return out, nil
	}
	c, err := x509.ParseCertificate(b)
	if err != nil {
		return nil, fmt.Errorf("neither PEM certificates nor a DER certificate: %w", err)
	}
	return []*x509.Certificate{c}, nil
}
