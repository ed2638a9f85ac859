package card

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// answers is a Transport that answers each command from a function.
type answers func(cmd []byte) []byte

func (a answers) Transmit(cmd []byte) ([]byte, error) {
	if r := a(cmd); r != nil {
		return r, nil
	}
	return nil, ErrRemoved
}
func (answers) Begin() error { return nil }
func (answers) End() error   { return nil }
func (answers) Close() error { return nil }

func seq(n int, start byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = start + byte(i)
	}
	return b
}

// TestRecorderRemovesPersonalData: what the recorder keeps of each kind of
// exchange: PINs and signature inputs go, the token-info serial goes, a
// certificate keeps its DER header only, EF 0008 stays, a file it cannot name
// loses all its data, a signature goes.
func TestRecorderRemovesPersonalData(t *testing.T) {
	tokenInfo := []byte("JPKIAPICCTOKEN2                 " + strings.Repeat(" ", 48) + "SERIAL0123456789" + strings.Repeat("\x00", 64))
	cert := append([]byte{0x30, 0x82, 0x01, 0x00}, seq(252, 0x41)...)
	sig := seq(256, 0)
	ok := []byte{0x90, 0x00}
	rec := NewRecorder(answers(func(cmd []byte) []byte {
		switch {
		case bytes.HasPrefix(cmd, []byte{0x00, 0xB0, 0x86}):
			return append(append([]byte(nil), tokenInfo...), ok...)
		case bytes.HasPrefix(cmd, []byte{0x00, 0xB0, 0x88}):
			return []byte{0x8F, 0x8F, 0x00, 0x90, 0x00}
		case bytes.HasPrefix(cmd, []byte{0x00, 0xB0, 0x8A}), bytes.HasPrefix(cmd, []byte{0x00, 0xB0, 0x00, 0x00}):
			return append(append([]byte(nil), cert...), ok...)
		case bytes.HasPrefix(cmd, []byte{0x80, 0x2A}):
			return append(append([]byte(nil), sig...), ok...)
		case bytes.HasPrefix(cmd, []byte{0xFF}):
			return nil
		}
		return ok
	}))
	send := func(b ...byte) { rec.Transmit(b) }
	send(0x00, 0xB0, 0x86, 0x00, 0xA0)                     // EF 0006
	send(0x00, 0xB0, 0x88, 0x00, 0x03)                     // EF 0008
	send(0x00, 0xB0, 0x8A, 0x00, 0x00)                     // EF 000A by short EF
	send(0x00, 0x20, 0x00, 0x80, 0x04, '1', '2', '3', '4') // VERIFY with a PIN
	send(0x00, 0x24, 0x01, 0x80, 0x04, '5', '6', '7', '8')
	rec.Begin()                                                // the selected EF is not known any more
	send(0x00, 0xB0, 0x00, 0x00, 0x00)                         // a READ BINARY of an unknown EF
	send(0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x0B)             // SELECT EF 000B
	send(0x00, 0xB0, 0x00, 0x00, 0x00)                         // its head
	send(0x80, 0x2A, 0x00, 0x97, 0x03, 0x01, 0x02, 0x03, 0x00) // a signature
	send(0xFF, 0x00, 0x00, 0x00)                               // a transport error
	ex := rec.Exchanges()
	if len(ex) != 10 {
		t.Fatalf("%d exchanges", len(ex))
	}
	removed := func(b Bytes, from, to int) bool {
		for i := range b.B {
			if b.Removed[i] != (i >= from && i < to) || b.Removed[i] && b.B[i] != 0 {
				return false
			}
		}
		return true
	}
	for i, c := range []struct {
		name          string
		cmd, resp     Bytes
		cmdRm, respRm [2]int
	}{
		{"EF 0006: the serial", ex[0].Command, ex[0].Response, [2]int{}, [2]int{80, 96}},
		{"EF 0008: nothing", ex[1].Command, ex[1].Response, [2]int{}, [2]int{}},
		{"certificate: all but the DER header", ex[2].Command, ex[2].Response, [2]int{}, [2]int{4, 256}},
		{"VERIFY: the PIN", ex[3].Command, ex[3].Response, [2]int{5, 9}, [2]int{}},
		{"CHANGE REFERENCE DATA: the PIN", ex[4].Command, ex[4].Response, [2]int{5, 9}, [2]int{}},
		{"unknown EF: all data", ex[5].Command, ex[5].Response, [2]int{}, [2]int{0, 256}},
		{"SELECT: nothing", ex[6].Command, ex[6].Response, [2]int{}, [2]int{}},
		{"EF 000B after SELECT: all but the DER header", ex[7].Command, ex[7].Response, [2]int{}, [2]int{4, 256}},
		{"signature: input and output", ex[8].Command, ex[8].Response, [2]int{5, 8}, [2]int{0, 256}},
	} {
		if !removed(c.cmd, c.cmdRm[0], c.cmdRm[1]) || !removed(c.resp, c.respRm[0], c.respRm[1]) {
			t.Errorf("exchange %d (%s): command %s, answer %s", i+1, c.name, formatBytes(c.cmd), formatBytes(c.resp))
		}
	}
	if ex[9].Err == "" || ex[9].Response.B != nil {
		t.Errorf("the transport error was not recorded: %+v", ex[9])
	}
	var buf bytes.Buffer
	if err := WriteTranscript(&buf, ex); err != nil {
		t.Fatal(err)
	}
	text := buf.String()
	for _, secret := range []string{"31 32 33 34", "35 36 37 38", "41 42 43 44", "53 45 52 49"} {
		if strings.Contains(text, secret) {
			t.Errorf("the transcript holds %s:\n%s", secret, text)
		}
	}
	back, err := ParseTranscript(strings.NewReader("a report\nwith lines before\n" + text))
	if err != nil {
		t.Fatal(err)
	}
	if len(back) != len(ex) {
		t.Fatalf("%d exchanges back, %d written", len(back), len(ex))
	}
	for i := range ex {
		if !bytes.Equal(back[i].Command.B, ex[i].Command.B) || !bytes.Equal(back[i].Response.B, ex[i].Response.B) ||
			back[i].Err == "" != (ex[i].Err == "") {
			t.Fatalf("exchange %d differs after the round trip:\n%+v\n%+v", i+1, back[i], ex[i])
		}
	}
	// a replay answers the recorded commands (removed bytes match anything),
	// keeps a transport error's identity, and refuses the rest
	r := NewReplay(back)
	for i, cmd := range [][]byte{{0x00, 0xB0, 0x86, 0x00, 0xA0}, {0x00, 0xB0, 0x88, 0x00, 0x03}, {0x00, 0xB0, 0x8A, 0x00, 0x00},
		{0x00, 0x20, 0x00, 0x80, 0x04, '9', '9', '9', '9'}} {
		if _, err := r.Transmit(cmd); err != nil {
			t.Fatalf("replay %d: %v", i+1, err)
		}
	}
	if _, err := r.Transmit([]byte{0x00, 0x20, 0x00, 0x80}); !IsTranscriptError(err) {
		t.Fatalf("a command other than the recorded one: %v", err)
	}
	if _, err := r.Transmit([]byte{0x00, 0x24, 0x01, 0x80, 0x04, 1, 2, 3, 4}); !IsTranscriptError(err) {
		t.Fatal("a replay went on after a mismatch")
	}
	r = NewReplay(back[9:])
	if _, err := r.Transmit([]byte{0xFF, 0x00, 0x00, 0x00}); !errors.Is(err, ErrRemoved) {
		t.Fatalf("replayed transport error: %v", err)
	}
	if _, err := r.Transmit([]byte{0x00, 0xA4, 0x04, 0x0C}); !IsTranscriptError(err) || !strings.Contains(err.Error(), "truncated") {
		t.Fatalf("past the end: %v", err)
	}
}

// TestParseTranscriptRefuses: malformed, truncated and edited transcripts.
func TestParseTranscriptRefuses(t *testing.T) {
	head := transcriptBegin + "\n"
	for name, text := range map[string]string{
		"no begin marker":    "001 0.1 ms > 00 A4 04 0C\n001 < 90 00\n",
		"no end marker":      head + "001 0.1 ms > 00 A4 04 0C\n001 < 90 00\n",
		"count differs":      head + "001 0.1 ms > 00 A4 04 0C\n001 < 90 00\n--- end of transcript (2 exchanges) ---\n",
		"out of order":       head + "002 0.1 ms > 00 A4 04 0C\n--- end of transcript (1 exchanges) ---\n",
		"bad hex":            head + "001 0.1 ms > 00 A4 0G 0C\n001 < 90 00\n--- end of transcript (1 exchanges) ---\n",
		"no status word":     head + "001 0.1 ms > 00 A4 04 0C\n001 < 90\n--- end of transcript (1 exchanges) ---\n",
		"answer twice":       head + "001 0.1 ms > 00 A4 04 0C\n001 < 90 00\n001 < 90 00\n--- end of transcript (1 exchanges) ---\n",
		"bad removed marker": head + "001 0.1 ms > 00 A4 04 0C\n001 < [x removed] 90 00\n--- end of transcript (1 exchanges) ---\n",
		"short command":      head + "001 0.1 ms > 00 A4\n001 < 90 00\n--- end of transcript (1 exchanges) ---\n",
	} {
		if _, err := ParseTranscript(strings.NewReader(text)); !IsTranscriptError(err) {
			t.Errorf("%s: parsed (%v)", name, err)
		}
	}
	ex, err := ParseTranscript(strings.NewReader(head + "001 0.1 ms > 00 A4 04 0C\n001 < [3 removed] 90 00\n--- end of transcript (1 exchanges) ---\n"))
	if err != nil || len(ex) != 1 || len(ex[0].Response.B) != 5 || ex[0].SW() != 0x9000 {
		t.Fatalf("a good transcript: %+v %v", ex, err)
	}
}

// FuzzParseTranscript: any text parses or is refused with ErrTranscript, never
// a panic; what parses replays its own commands.
func FuzzParseTranscript(f *testing.F) {
	f.Add(transcriptBegin + "\n001 0.1 ms > 00 A4 04 0C\n001 < [3 removed] 90 00\n--- end of transcript (1 exchanges) ---\n")
	f.Add(transcriptBegin + "\n001 0.1 ms > 00 B0 86 00 A0\n001 ! card removed\n--- end of transcript (1 exchanges) ---\n")
	f.Add("report\n" + transcriptBegin + "\n001 > 00 20 00 80 04 [4 removed]\n001 < 63 C2\n--- end of transcript (2 exchanges) ---\n")
	f.Fuzz(func(t *testing.T, text string) {
		ex, err := ParseTranscript(strings.NewReader(text))
		if err != nil {
			if !IsTranscriptError(err) {
				t.Fatalf("error %v is not ErrTranscript", err)
			}
			return
		}
		r := NewReplay(ex)
		for i, e := range ex {
			if len(e.Command.B) < 4 || e.Err == "" && len(e.Response.B) < 2 {
				t.Fatalf("exchange %d malformed: %+v", i+1, e)
			}
			if _, err := r.Transmit(e.Command.B); IsTranscriptError(err) {
				t.Fatalf("exchange %d does not replay: %v", i+1, err)
			}
		}
	})
}
