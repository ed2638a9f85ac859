package formfactors

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jpki-pkcs11/jpki-pkcs11/card"
	"github.com/jpki-pkcs11/jpki-pkcs11/test/clients/clienttest"
	"github.com/jpki-pkcs11/jpki-pkcs11/test/harness"
)

// variations are the jpki-vcard new flags of each variation of expectations.
var variations = map[string][]string{
	"my-number":       nil,
	"under15":         {"--under15"},
	"juki":            {"--juki"},
	"no-pss":          {"--no-pss"},
	"android":         {"--phone", "android"},
	"iphone":          {"--phone", "ios"},
	"verify-9000":     {"--quirk", "verify-9000"},
	"blocked-63c0":    {"--quirk", "blocked-63c0"},
	"len-6985":        {"--quirk", "len-6985"},
	"len-6985-no-pss": {"--quirk", "len-6985", "--no-pss"},
	"no-short-ef":     {"--quirk", "no-short-ef"},
	"no-jpki-ap":      {"--quirk", "no-jpki-ap"},
	"ef0008-404000":   {"--ef0008", "404000"},
	"combined":        {"--quirk", "no-short-ef", "--quirk", "len-6985", "--quirk", "verify-9000", "--quirk", "blocked-63c0"},
}

// TestDiagnoseEveryVariation: jpki diagnose on each variation, through pcscd:
// it sends no PIN, no PIN change and no signature input, changes no counter,
// and its report replays through the card layer and the module's
// identification as the variation says (replayReport).
func TestDiagnoseEveryVariation(t *testing.T) {
	for name, want := range expectations {
		args, ok := variations[name]
		if !ok {
			t.Fatalf("variation %s has no jpki-vcard flags", name)
		}
		t.Run(name, func(t *testing.T) {
			c := fx.StartCard(t, 0, args...)
			if name == "blocked-63c0" {
				blockAuthPIN(t)
			}
			before := harness.ReadCardState(t, c.Dir)
			mark := fx.PC.Mark()
			out := filepath.Join(t.TempDir(), "report.txt")
			clienttest.Contains(t, "jpki diagnose", mustJPKI(t, "", "diagnose", "--reader", "0", "--out", out), "report written to", "no PIN sent")
			for _, e := range exchanges(t, mark) {
				f := strings.Fields(e.cmd)
				switch {
				case f[0] == "00" && f[1] == "20" && len(f) > 4, f[0] == "00" && f[1] == "24":
					t.Fatalf("jpki diagnose sent a PIN command: %s", e.cmd)
				case f[0] == "80" && f[1] == "2A" && len(f) > 4:
					t.Fatalf("jpki diagnose sent a signature command with data: %s", e.cmd)
				}
			}
			if after := harness.ReadCardState(t, c.Dir); after != before {
				t.Fatalf("PIN counters changed: %v -> %v", before, after)
			}
			rep, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			replayReport(t, string(rep), want)
		})
	}
}

// blockAuthPIN spends the authentication PIN's three tries on the card in reader 0.
func blockAuthPIN(t *testing.T) {
	t.Helper()
	c := fx.PC.Connect(t, 0)
	for range card.AuthKey.MaxTries() {
		if err := c.Verify(card.AuthKey, []byte("0000")); err == nil {
			t.Fatal("0000 is the PIN")
		}
	}
}
