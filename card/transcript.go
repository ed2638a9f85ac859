// Transcripts: the APDUs exchanged with a card, with everything personal removed,
// written as text a card holder can share (jpki diagnose) and read back to replay
// them (replay.go).

package card

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Bytes is a byte string of a transcript; Removed[i] says byte i was removed
// before the transcript was written (B[i] is then 0).
type Bytes struct {
	B       []byte
	Removed []bool
}

// removedCount is the number of removed bytes.
func (b Bytes) removedCount() int {
	n := 0
	for _, r := range b.Removed {
		if r {
			n++
		}
	}
	return n
}

// Exchange is one command and what came back: the response (data and status
// word) or a transport error.
type Exchange struct {
	Command  Bytes
	Response Bytes  // nil B when Err is set
	Err      string // transport error (no response)
	Took     time.Duration
}

// SW is the status word of the response (0 for a transport error).
func (e Exchange) SW() uint16 {
	b := e.Response.B
	if len(b) < 2 {
		return 0
	}
	return uint16(b[len(b)-2])<<8 | uint16(b[len(b)-1])
}

// Recorder is a Transport that passes everything to another one and keeps a
// transcript of the exchanges from which personal data is removed as it is
// recorded, so that nothing personal is ever kept:
//
//   - command data of VERIFY (INS 20), CHANGE REFERENCE DATA (INS 24) and the
//     signature command (CLA 80 INS 2A): PINs and what is signed;
//   - the data of a READ BINARY of EF 0006 keeps everything but the serial
//     number; of EF 0008 everything; of any other file (the certificates, whose
//     bodies carry the holder's name, address, birth date and serial numbers)
//     only the 4 bytes at offsets 0 to 3 (the DER tag and length), and nothing
//     when the file is not known;
//   - the data of any other answer (a signature, GET CHALLENGE).
//
// It follows the EF the card has selected from the commands and answers it sees
// (SELECT, short-EF READ BINARY), and forgets it at every Begin.
type Recorder struct {
	t Transport

	mu    sync.Mutex
	ex    []Exchange
	curEF uint16 // 0: not known
}

// NewRecorder records the exchanges over t.
func NewRecorder(t Transport) *Recorder { return &Recorder{t: t} }

// Exchanges returns the exchanges so far.
func (r *Recorder) Exchanges() []Exchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Exchange(nil), r.ex...)
}

// Transmit sends cmd and records the exchange.
func (r *Recorder) Transmit(cmd []byte) ([]byte, error) {
	start := time.Now()
	resp, err := r.t.Transmit(cmd)
	took := time.Since(start)
	r.mu.Lock()
	defer r.mu.Unlock()
	e := Exchange{Command: r.redactCommand(cmd), Took: took}
	if err != nil {
		e.Err = err.Error()
		r.curEF = 0
	} else {
		e.Response = r.redactResponse(cmd, resp)
	}
	r.ex = append(r.ex, e)
	return resp, err
}

// Begin begins a transaction; the EF the card has selected is not known after it.
func (r *Recorder) Begin() error {
	r.mu.Lock()
	r.curEF = 0
	r.mu.Unlock()
	return r.t.Begin()
}

// End ends the transaction.
func (r *Recorder) End() error { return r.t.End() }

// Close closes the underlying transport.
func (r *Recorder) Close() error { return r.t.Close() }

// keep copies b with nothing removed.
func keep(b []byte) Bytes {
	return Bytes{B: append([]byte(nil), b...), Removed: make([]bool, len(b))}
}

// remove marks b[from:to] removed (and zeroes it).
func (b Bytes) remove(from, to int) {
	for i := max(from, 0); i < min(to, len(b.B)); i++ {
		b.B[i], b.Removed[i] = 0, true
	}
}

func (r *Recorder) redactCommand(cmd []byte) Bytes {
	out := keep(cmd)
	if len(cmd) > 5 && (cmd[1] == 0x20 || cmd[1] == 0x24 || cmd[0] == 0x80 && cmd[1] == 0x2A) {
		out.remove(5, 5+int(cmd[4])) // Lc data; a trailing Le stays
	}
	return out
}

func (r *Recorder) redactResponse(cmd, resp []byte) Bytes {
	out := keep(resp)
	n := len(resp) - 2 // data bytes
	if n < 0 {
		return out
	}
	sw := uint16(0)
	if len(resp) >= 2 {
		sw = uint16(resp[n])<<8 | uint16(resp[n+1])
	}
	if len(cmd) < 4 || cmd[0] != 0x00 || cmd[1] != 0xB0 {
		r.follow(cmd, sw)
		out.remove(0, n)
		return out
	}
	fid, off := r.curEF, int(cmd[2])<<8|int(cmd[3])
	if cmd[2]&0x80 != 0 {
		fid, off = uint16(cmd[2]&0x1F), int(cmd[3])
	}
	if sw == 0x9000 {
		r.curEF = fid
	} else if cmd[2]&0x80 != 0 {
		r.curEF = 0
	}
	data := func(from, to int) { out.remove(from, min(to, n)) } // never the status word
	switch fid {
	case EFPresence:
	case EFTokenInfo:
		data(TokenInfoSerialOffset-off, TokenInfoSerialOffset+16-off)
	case 0:
		data(0, n)
	default:
		data(4-off, n) // DER tag and length only
	}
	return out
}

// follow updates the EF the card has selected after cmd answered sw.
func (r *Recorder) follow(cmd []byte, sw uint16) {
	switch {
	case len(cmd) >= 7 && cmd[0] == 0x00 && cmd[1] == 0xA4 && cmd[2] == 0x02 && sw == 0x9000:
		r.curEF = uint16(cmd[5])<<8 | uint16(cmd[6])
	case len(cmd) >= 4 && cmd[0] == 0x00 && cmd[1] == 0xA4:
		r.curEF = 0
	case len(cmd) >= 4 && cmd[0] == 0x80 && cmd[1] == 0x2A && cmd[3]&0x1F != 0:
		if sw == 0x9000 {
			r.curEF = uint16(cmd[3] & 0x1F)
		} else {
			r.curEF = 0
		}
	}
}

// Transcript markers.
const (
	transcriptBegin = "--- transcript (jpki diagnose, format 1) ---"
	transcriptEnd   = "--- end of transcript ("
)

// ErrTranscript is wrapped by every error of reading or replaying a transcript.
var ErrTranscript = errors.New("transcript")

// WriteTranscript writes the exchanges as text: a begin marker, one line per
// command ("NNN +T ms > hex") and one per answer ("NNN < hex" or "NNN ! error"),
// removed bytes as "[N removed]", and an end marker with the count, whose absence
// tells a truncated transcript.
func WriteTranscript(w io.Writer, ex []Exchange) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, transcriptBegin)
	fmt.Fprintln(bw, `# one exchange per pair of lines: ">" the command, "<" the answer (data, then the status word),`)
	fmt.Fprintln(bw, `# "!" a transport error; "[N removed]": N bytes removed before writing (certificate bodies,`)
	fmt.Fprintln(bw, `# personal fields, the token serial number, PINs); the time is the APDU's round trip.`)
	for i, e := range ex {
		fmt.Fprintf(bw, "%03d %8.3f ms > %s\n", i+1, float64(e.Took.Microseconds())/1000, formatBytes(e.Command))
		if e.Err != "" {
			fmt.Fprintf(bw, "%03d ! %s\n", i+1, strings.ReplaceAll(e.Err, "\n", " "))
		} else {
			fmt.Fprintf(bw, "%03d < %s\n", i+1, formatBytes(e.Response))
		}
	}
	fmt.Fprintf(bw, "%s%d exchanges) ---\n", transcriptEnd, len(ex))
	return bw.Flush()
}

func formatBytes(b Bytes) string {
	var sb strings.Builder
	for i := 0; i < len(b.B); {
		if sb.Len() > 0 {
			sb.WriteByte(' ')
		}
		if b.Removed[i] {
			j := i
			for j < len(b.B) && b.Removed[j] {
				j++
			}
			fmt.Fprintf(&sb, "[%d removed]", j-i)
			i = j
			continue
		}
		fmt.Fprintf(&sb, "%02X", b.B[i])
		i++
	}
	return sb.String()
}

// ParseTranscript reads the exchanges of the transcript in r, which may be a
// whole jpki diagnose report: the lines before the begin marker are skipped. A
// missing begin marker, a missing end marker (a truncated transcript), a count
// that differs from the exchanges read, or any malformed line is an error.
func ParseTranscript(r io.Reader) ([]Exchange, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	line := 0
	for {
		if !sc.Scan() {
			if err := sc.Err(); err != nil {
				return nil, fmt.Errorf("%w: %v", ErrTranscript, err)
			}
			return nil, fmt.Errorf("%w: no %q line: not a jpki diagnose transcript", ErrTranscript, transcriptBegin)
		}
		line++
		if strings.TrimSpace(sc.Text()) == transcriptBegin {
			break
		}
	}
	var ex []Exchange
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: line %d: %s", ErrTranscript, line, fmt.Sprintf(format, a...))
	}
	for sc.Scan() {
		line++
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		if rest, ok := strings.CutPrefix(t, transcriptEnd); ok {
			count, ok := strings.CutSuffix(rest, " exchanges) ---")
			n, err := strconv.Atoi(count)
			if !ok || err != nil {
				return nil, bad("malformed end marker %q", t)
			}
			if k := len(ex); k > 0 && ex[k-1].Response.B == nil && ex[k-1].Err == "" {
				return nil, bad("exchange %d has no answer", k)
			}
			if n != len(ex) {
				return nil, bad("the end marker counts %d exchanges, the transcript has %d (truncated or edited)", n, len(ex))
			}
			return ex, nil
		}
		num, rest, _ := strings.Cut(t, " ")
		i, err := strconv.Atoi(num)
		if err != nil || i < 1 {
			return nil, bad("no exchange number in %q", t)
		}
		rest = strings.TrimSpace(rest)
		switch {
		case i == len(ex)+1:
			// "T ms > hex": a new exchange's command
			if _, cmd, ok := strings.Cut(rest, "> "); ok || strings.HasSuffix(rest, ">") {
				var took time.Duration
				if ms, _, ok := strings.Cut(rest, " ms"); ok {
					if f, err := strconv.ParseFloat(strings.TrimSpace(ms), 64); err == nil {
						took = time.Duration(f * float64(time.Millisecond))
					}
				}
				b, err := parseBytes(cmd)
				if err != nil || len(b.B) < 4 {
					return nil, bad("command of exchange %d: %v", i, errOr(err, "shorter than 4 bytes"))
				}
				ex = append(ex, Exchange{Command: b, Took: took})
				continue
			}
			return nil, bad("exchange %d starts without a command", i)
		case i == len(ex) && len(ex) > 0 && ex[i-1].Response.B == nil && ex[i-1].Err == "":
			e := &ex[i-1]
			if msg, ok := strings.CutPrefix(rest, "! "); ok {
				e.Err = msg
				if e.Err == "" {
					e.Err = "transport error"
				}
				continue
			}
			if resp, ok := strings.CutPrefix(rest, "<"); ok {
				b, err := parseBytes(strings.TrimSpace(resp))
				if err != nil || len(b.B) < 2 {
					return nil, bad("answer of exchange %d: %v", i, errOr(err, "no status word"))
				}
				e.Response = b
				continue
			}
			return nil, bad("exchange %d: %q is neither an answer nor an error", i, t)
		}
		return nil, bad("exchange %d out of order (after %d)", i, len(ex))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTranscript, err)
	}
	return nil, fmt.Errorf("%w: ends after %d exchanges without the end marker (truncated)", ErrTranscript, len(ex))
}

func errOr(err error, msg string) error {
	if err != nil {
		return err
	}
	return errors.New(msg)
}

// parseBytes reads "4A 50 [16 removed] 90 00".
func parseBytes(s string) (Bytes, error) {
	var out Bytes
	f := strings.Fields(s)
	for i := 0; i < len(f); i++ {
		tok := f[i]
		if strings.HasPrefix(tok, "[") {
			if i+1 >= len(f) || f[i+1] != "removed]" {
				return Bytes{}, fmt.Errorf("malformed %q", tok)
			}
			n, err := strconv.Atoi(tok[1:])
			if err != nil || n < 1 || n > MaxFileSize+1 {
				return Bytes{}, fmt.Errorf("malformed removed count %q", tok)
			}
			out.B = append(out.B, make([]byte, n)...)
			for range n {
				out.Removed = append(out.Removed, true)
			}
			i++
			continue
		}
		b, err := hex.DecodeString(tok)
		if err != nil || len(b) != 1 {
			return Bytes{}, fmt.Errorf("%q is not a hex byte", tok)
		}
		out.B = append(out.B, b[0])
		out.Removed = append(out.Removed, false)
	}
	return out, nil
}
