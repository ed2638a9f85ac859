package session

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jpki-pkcs11/jpki-pkcs11/ck"
	"github.com/jpki-pkcs11/jpki-pkcs11/vcard"
)

// Several threads signing on one token: every signature is right, and the
// operations queued behind the running one share its PC/SC transaction.
func TestConcurrentSignaturesShareTransactions(t *testing.T) {
	const threads, each = 12, 4 // more threads than one caller runs for the others: the queue is handed over
	m, sys, c := setup(t, vcard.Options{Latency: 10 * time.Millisecond})
	h, priv, _ := loggedIn(t, m, 0, "1234")
	pub := certOf(t, c.Status().AuthCert).PublicKey.(*rsa.PublicKey)
	must(t, "SignInit", m.SignInit(h, Mechanism{Type: ck.CKM_SHA256_RSA_PKCS}, priv))
	if _, err := m.Sign(h, []byte("warm")); err != nil {
		t.Fatal(err)
	}
	sessions := make([]ck.ULong, threads)
	for i := range sessions {
		sessions[i] = open(t, m, 0, false)
	}
	before := sys.begins.Load()
	var wg sync.WaitGroup
	errs := make(chan error, threads*each)
	start := make(chan struct{})
	for i, s := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for n := 0; n < each; n++ {
				msg := []byte(fmt.Sprintf("thread %d signature %d", i, n))
				if err := m.SignInit(s, Mechanism{Type: ck.CKM_SHA256_RSA_PKCS}, priv); err != nil {
					errs <- err
					return
				}
				sig, err := m.Sign(s, msg)
				if err != nil {
					errs <- err
					return
				}
				sum := sha256.Sum256(msg)
				if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
					errs <- fmt.Errorf("thread %d signature %d does not verify: %v", i, n, err)
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	begun := sys.begins.Load() - before
	t.Logf("%d signatures in %d PC/SC transactions", threads*each, begun)
	if begun > threads*each/2 {
		t.Fatalf("%d transactions for %d signatures: queued operations did not share them", begun, threads*each)
	}
}
