package formfactors

import (
	"encoding/hex"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/jpki-pkcs11/jpki-pkcs11/card"
	"github.com/jpki-pkcs11/jpki-pkcs11/ck"
	"github.com/jpki-pkcs11/jpki-pkcs11/session"
)

// transcripts is the folder of the jpki diagnose reports replayed here: one per
// virtual variation (written by testdata/transcriptgen), and any a card holder
// sends (add it with an entry in expectations).
const transcripts = "testdata/transcripts"

// expectation is what the card layer and the module's identification must make
// of a variation's transcript.
type expectation struct {
	kind   string   // card.Kind.Code()
	tokens []string // token labels shown, authentication first
	// authLoginRequired: CKF_LOGIN_REQUIRED on the authentication token
	authLoginRequired bool
	authLocked        bool // CKF_USER_PIN_LOCKED on the authentication token
	pss               bool // RSASSA-PSS mechanisms listed
}

var (
	cardTokens  = []string{session.AuthTokenLabel, session.SignTokenLabel}
	phoneTokens = []string{session.PhoneAuthTokenLabel, session.PhoneSignTokenLabel}
)

// expectations names every variation's transcript: a missing one fails the test.
var expectations = map[string]expectation{
	"my-number":       {kind: "my_number", tokens: cardTokens, pss: true},
	"under15":         {kind: "my_number_no_sign", tokens: cardTokens[:1], pss: true},
	"juki":            {kind: "juki"},
	"no-pss":          {kind: "my_number", tokens: cardTokens},
	"android":         {kind: "android_phone", tokens: phoneTokens, authLoginRequired: true, pss: true},
	"iphone":          {kind: "iphone"},
	"verify-9000":     {kind: "my_number", tokens: cardTokens, pss: true},
	"blocked-63c0":    {kind: "my_number", tokens: cardTokens, authLocked: true, pss: true},
	"len-6985":        {kind: "my_number", tokens: cardTokens, pss: true},
	"len-6985-no-pss": {kind: "my_number", tokens: cardTokens},
	"no-short-ef":     {kind: "my_number", tokens: cardTokens, pss: true},
	"no-jpki-ap":      {kind: "my_number_unknown_jpki"},
	"ef0008-404000":   {kind: "my_number", tokens: cardTokens, pss: true},
	"combined":        {kind: "my_number", tokens: cardTokens, authLocked: false, pss: true},
}

// TestReplayTranscripts replays every report of testdata/transcripts through the
// card layer (Identify) and the module's identification (session: slot list,
// token info of each token, mechanisms): each must come out as its variation
// says, and the replay must not run past or away from the transcript. A
// variation without its report fails.
func TestReplayTranscripts(t *testing.T) {
	names, _ := filepath.Glob(filepath.Join(transcripts, "*.txt"))
	have := map[string]bool{}
	for _, n := range names {
		have[strings.TrimSuffix(filepath.Base(n), ".txt")] = true
	}
	for name := range expectations {
		if !have[name] {
			t.Errorf("transcript %s/%s.txt is missing (go run ./test/formfactors/testdata/transcriptgen writes them)", transcripts, name)
		}
	}
	for _, n := range names {
		name := strings.TrimSuffix(filepath.Base(n), ".txt")
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(n)
			if err != nil {
				t.Fatal(err)
			}
			want, ok := expectations[name]
			if !ok {
				t.Fatalf("%s has no entry in expectations: say what the module must make of it", n)
			}
			replayReport(t, string(b), want)
		})
	}
}

var (
	cardLine   = regexp.MustCompile(`(?m)^card: +.*\(([a-z_0-9]+)\)$`)
	readerLine = regexp.MustCompile(`(?m)^reader: +(.*)$`)
	atrLine    = regexp.MustCompile(`(?m)^ATR: +([0-9A-F ]*)$`)
	// exchangeLine is a line of a transcript's exchange ("004 ...").
	exchangeLine = regexp.MustCompile(`^\d{3} `)
)

// replayReport replays the transcript of a jpki diagnose report through the card
// layer and the module's identification and checks the outcome against want
// and against what the report itself recorded.
func replayReport(t *testing.T, report string, want expectation) {
	t.Helper()
	ex, err := card.ParseTranscript(strings.NewReader(report))
	if err != nil {
		t.Fatalf("the report's transcript: %v", err)
	}
	m := cardLine.FindStringSubmatch(report)
	if m == nil {
		t.Fatal("the report has no card: line")
	}
	if m[1] != want.kind {
		t.Fatalf("the report recorded a %s, want %s", m[1], want.kind)
	}

	// the card layer
	r := card.NewReplay(ex)
	info, err := card.New(r).Identify()
	if err != nil {
		t.Fatalf("Identify over the replay: %v", err)
	}
	if info.Kind.Code() != want.kind {
		t.Fatalf("Identify over the replay: %s, want %s", info.Kind.Code(), want.kind)
	}

	// the module's identification
	reader := "Replayed reader"
	if m := readerLine.FindStringSubmatch(report); m != nil {
		reader = strings.TrimSpace(m[1])
	}
	var atr []byte
	if m := atrLine.FindStringSubmatch(report); m != nil {
		atr, _ = hex.DecodeString(strings.ReplaceAll(m[1], " ", ""))
	}
	r = card.NewReplay(ex)
	mgr, err := session.New(session.Config{System: &card.ReplaySystem{Reader: reader, ATR: atr, R: r},
		Log: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	defer mgr.Close()
	slots, err := mgr.SlotList(true)
	if err != nil {
		t.Fatalf("SlotList: %v", err)
	}
	var labels []string
	var infos []session.TokenInfo
	for _, s := range slots {
		ti, err := mgr.TokenInfo(s)
		if err != nil {
			t.Fatalf("TokenInfo(%d): %v", s, err)
		}
		labels, infos = append(labels, ti.Label), append(infos, ti)
	}
	var mechs []ck.ULong
	if len(slots) > 0 {
		if mechs, err = mgr.Mechanisms(slots[0]); err != nil {
			t.Fatalf("Mechanisms: %v", err)
		}
	}
	if err := r.Err(); err != nil {
		t.Fatalf("the module's identification ran away from the transcript: %v", err)
	}
	if !slices.Equal(labels, want.tokens) {
		t.Fatalf("tokens %q, want %q", labels, want.tokens)
	}
	if len(infos) == 0 {
		return
	}
	auth := infos[0]
	if got := auth.Flags&ck.CKF_LOGIN_REQUIRED != 0; got != want.authLoginRequired {
		t.Errorf("authentication token login required: %v, want %v", got, want.authLoginRequired)
	}
	if got := auth.Flags&ck.CKF_USER_PIN_LOCKED != 0; got != want.authLocked {
		t.Errorf("authentication token PIN locked: %v, want %v", got, want.authLocked)
	}
	if got := slices.Contains(mechs, ck.CKM_RSA_PKCS_PSS); got != want.pss {
		t.Errorf("RSASSA-PSS listed: %v, want %v", got, want.pss)
	}
	if want.kind == "android_phone" && (auth.Model != "Android phone" || strings.Trim(auth.SerialNumber, "0") == "") {
		t.Errorf("phone token: model %q, serial %q", auth.Model, auth.SerialNumber)
	}
}

// TestReplayFailsLoudly: a transcript cut short, one whose end marker is lost,
// and one missing its last exchanges are refused, never replayed as far as
// they go.
func TestReplayFailsLoudly(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(transcripts, "my-number.txt"))
	if err != nil {
		t.Fatalf("transcript missing: %v", err)
	}
	rep := string(b)
	if _, err := card.ParseTranscript(strings.NewReader(rep[:len(rep)*2/3])); !card.IsTranscriptError(err) {
		t.Errorf("a transcript cut short parsed: %v", err)
	}
	if _, err := card.ParseTranscript(strings.NewReader("no transcript here\n")); !card.IsTranscriptError(err) {
		t.Errorf("a report without a transcript parsed: %v", err)
	}
	// drop the exchanges from 004 on and fix up the count: the transcript parses,
	// the module's identification runs past it, and the replay says so
	var kept []string
	for _, line := range strings.Split(rep, "\n") {
		if exchangeLine.MatchString(line) && line[:3] >= "004" {
			continue
		}
		if strings.HasPrefix(line, "--- end of transcript (") {
			line = "--- end of transcript (3 exchanges) ---"
		}
		kept = append(kept, line)
	}
	ex, err := card.ParseTranscript(strings.NewReader(strings.Join(kept, "\n")))
	if err != nil || len(ex) != 3 {
		t.Fatalf("the shortened transcript: %d exchanges, %v", len(ex), err)
	}
	r := card.NewReplay(ex)
	mgr, err := session.New(session.Config{System: &card.ReplaySystem{Reader: "R", R: r}})
	if err != nil {
		t.Fatal(err)
	}
	defer mgr.Close()
	_, _ = mgr.SlotList(true)
	if err := r.Err(); !card.IsTranscriptError(err) || !strings.Contains(err.Error(), "truncated") {
		t.Fatalf("a replay past the end: %v", err)
	}
	// a command the transcript does not have
	r = card.NewReplay(ex)
	if _, err := r.Transmit([]byte{0x00, 0xA4, 0x04, 0x0C, 0x01, 0x00}); !card.IsTranscriptError(err) {
		t.Fatalf("an unrecorded command was answered: %v", err)
	}
}

// testWriter sends the module's log to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}
