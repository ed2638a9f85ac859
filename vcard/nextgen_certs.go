package vcard

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"sync"
	"time"
)

// nextCAKeys holds the next generation's test CA keys (ECDSA P-384), generated
// once per process as caKeys.
var nextCAKeys struct {
	once sync.Once
	keys [2]*ecdsa.PrivateKey
	err  error
}

func testNextCAKeys() ([2]*ecdsa.PrivateKey, error) {
	nextCAKeys.once.Do(func() {
		for i := range nextCAKeys.keys {
			if nextCAKeys.keys[i], nextCAKeys.err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader); nextCAKeys.err != nil {
				return
			}
		}
	})
	return nextCAKeys.keys, nextCAKeys.err
}

// nextMaterial makes the next generation's keys and certificates, shaped like the
// announced profile (shared/JPKI.md §7-8): ECDSA P-384 holder and CA keys,
// ecdsa-with-SHA384 signatures, holder certificates valid 10 years (to the end of
// the day before the 10th anniversary of the issue, in Japan), the same names and
// holder attributes as today's cards.
func nextMaterial(o Options) (*material, error) {
	ca, err := testNextCAKeys()
	if err != nil {
		return nil, err
	}
	newKey := func() (crypto.Signer, error) {
		key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("generate ECDSA P-384 key: %w", err)
		}
		return key, nil
	}
	return issue(o, newKey, ca[0], ca[1], nextNotAfter(o.Issued))
}

// NextValidity is the validity of the next generation's certificates (announced).
const NextValidity = 10 // years

// nextNotAfter is the end of a next-generation certificate issued on issued: the
// end of the day (Japan) before the 10th anniversary.
func nextNotAfter(issued time.Time) time.Time {
	d := issued.AddDate(NextValidity, 0, -1)
	return time.Date(d.Year(), d.Month(), d.Day(), 14, 59, 59, 0, time.UTC)
}
