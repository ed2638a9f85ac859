package cardtest

import (
	"testing"
	"time"

	"github.com/jpki-pkcs11/jpki-pkcs11/card"
)

// TestAPDURoundTrip checks the vpcd latency trap is avoided (CLIENTS.md): with
// TCP_QUICKACK re-armed after every read, an APDU through pcscd and vpcd takes
// well under the ~48 ms of a delayed ACK; with --latency the card is as slow as asked.
func TestAPDURoundTrip(t *testing.T) {
	pc.NewCard(t, 0, nil)
	pc.NewCard(t, 1, nil, "--latency", "20ms")
	for _, tc := range []struct {
		reader   int
		min, max time.Duration
	}{{0, 0, 10 * time.Millisecond}, {1, 20 * time.Millisecond, 35 * time.Millisecond}} {
		c := pc.Connect(t, tc.reader)
		tr := c.Transport()
		const n = 40
		start := time.Now()
		for i := 0; i < n; i++ {
			raw, err := tr.Transmit([]byte{0x00, 0x84, 0x00, 0x00, 0x08})
			if err != nil {
				t.Fatal(err)
			}
			if r, err := card.ParseResponse(raw); err != nil || r.SW != 0x9000 || len(r.Data) != 8 {
				t.Fatalf("GET CHALLENGE: % X %v", raw, err)
			}
		}
		per := time.Since(start) / n
		t.Logf("reader %d: %v per APDU", tc.reader, per)
		if per < tc.min || per > tc.max {
			t.Fatalf("reader %d: %v per APDU, want %v..%v", tc.reader, per, tc.min, tc.max)
		}
	}
}

// BenchmarkReadAuthCertificate reads the authentication certificate through
// pcscd and vpcd (4 APDUs: short EF, 256-byte reads).
func BenchmarkReadAuthCertificate(b *testing.B) {
	dir, err := pc.NewCardDir("bench")
	if err != nil {
		b.Fatal(err)
	}
	vc, err := pc.StartCard(dir, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { vc.Stop(); _ = pc.WaitCard(0, false, 10*time.Second) }()
	sys, err := pc.System()
	if err != nil {
		b.Fatal(err)
	}
	tr, err := sys.Connect("Virtual PCD 00 00")
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	c := card.New(tr)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.ReadFile(card.EFAuthCert); err != nil {
			b.Fatal(err)
		}
	}
}
