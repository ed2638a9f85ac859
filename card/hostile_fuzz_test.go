package card

import (
	"errors"
	"runtime/metrics"
	"testing"
)

// hostileCard is a Transport whose answers a fuzzer drives: it serves fuzz-given
// EF contents as an honest JPKI card would, except where the fuzz input's quirks
// (one byte per command) make it deviate: any status word, empty or truncated
// data, more data than Le, responses without a status word, transport errors.
// It allocates nothing per command (responses live in a small ring of buffers),
// so the caller can measure what the Card allocates.
//
// It also checks every command the Card sends: short APDUs only, READ BINARY
// offsets within 15 bits (or a short EF, P1 = 80|SFI) and Le 1..256, and it counts VERIFY and signature
// commands (operations that must never send them can assert zero).
type hostileCard struct {
	files  map[uint16][]byte
	quirks []byte
	cycle  bool // quirks repeat forever instead of turning honest when used up
	pos    int

	curEF     uint16
	n         int    // Transmit calls
	verifies  int    // VERIFY with data (a PIN try)
	signs     int    // signature commands with data
	changes   int    // CHANGE REFERENCE DATA
	deviated  bool   // at least one quirk changed an answer
	bad       string // first malformed command, "" when all were well formed
	ring      [4][600]byte
	ringPos   int
	beginErrs int // Begin returns ErrReset this many times first
}

// hostileLimit stops a runaway loop so the fuzzer reports it instead of hanging.
const hostileLimit = 100000

var (
	errHostileLoop = errors.New("hostile card: too many commands (loop)")
	errHostileIO   = errors.New("hostile card: I/O error")
	hostileErrs    = [...]error{ErrRemoved, ErrReset, ErrTimeout, errHostileIO}
)

func newHostile(files map[uint16][]byte, quirks []byte) *hostileCard {
	h := &hostileCard{files: files}
	if len(quirks) > 0 && quirks[0]&0x80 != 0 { // first byte's top bit: cycle forever
		h.cycle = true
		quirks = quirks[1:]
	}
	h.quirks = quirks
	return h
}

func (h *hostileCard) Begin() error {
	if h.beginErrs > 0 {
		h.beginErrs--
		return ErrReset
	}
	return nil
}
func (h *hostileCard) End() error   { return nil }
func (h *hostileCard) Close() error { return nil }

// next returns the next quirk byte (0 = honest).
func (h *hostileCard) next() byte {
	if len(h.quirks) == 0 {
		return 0
	}
	if h.pos >= len(h.quirks) {
		if !h.cycle {
			return 0
		}
		h.pos = 0
	}
	q := h.quirks[h.pos]
	h.pos++
	return q
}

// out copies data and the status word into the next ring buffer.
func (h *hostileCard) out(data []byte, sw uint16) []byte {
	b := h.ring[h.ringPos%len(h.ring)][:0]
	h.ringPos++
	if len(data) > len(b[:cap(b)])-2 {
		data = data[:cap(b)-2]
	}
	b = append(b, data...)
	return append(b, byte(sw>>8), byte(sw))
}

func (h *hostileCard) malformed(why string) {
	if h.bad == "" {
		h.bad = why
	}
}

// honest answers cmd as a JPKI card holding h.files would.
func (h *hostileCard) honest(cmd []byte) ([]byte, uint16, int) {
	if len(cmd) < 4 {
		h.malformed("command shorter than 4 bytes")
		return nil, 0x6700, 0
	}
	cla, ins, p1, p2 := cmd[0], cmd[1], cmd[2], cmd[3]
	var data []byte
	le := 0
	switch {
	case len(cmd) == 5:
		le = int(cmd[4])
		if le == 0 {
			le = 256
		}
	case len(cmd) > 5:
		lc := int(cmd[4])
		switch {
		case lc == 0:
			h.malformed("extended-length APDU")
		case len(cmd) == 5+lc:
		case len(cmd) == 6+lc:
			le = int(cmd[5+lc])
			if le == 0 {
				le = 256
			}
		default:
			h.malformed("Lc does not match the command length")
			return nil, 0x6700, 0
		}
		data = cmd[5:min(len(cmd), 5+lc)]
	}
	if cla != 0x00 && cla != 0x80 {
		h.malformed("unexpected CLA")
	}
	switch ins {
	case 0xA4:
		if p1 == 0x04 {
			h.curEF = 0
			return nil, 0x9000, le
		}
		if p1 != 0x02 || len(data) != 2 {
			h.malformed("SELECT other than by AID or P1=02 with a 2-byte FID")
			return nil, 0x6A86, le
		}
		fid := uint16(data[0])<<8 | uint16(data[1])
		if _, ok := h.files[fid]; !ok && fid != EFAuthPIN && fid != EFSignPIN && fid != EFAuthKey && fid != EFSignKey {
			return nil, 0x6A82, le
		}
		h.curEF = fid
		return nil, 0x9000, le
	case 0xB0:
		if len(cmd) != 5 {
			h.malformed("READ BINARY without exactly an Le")
		}
		off := int(p1)<<8 | int(p2)
		if p1&0x80 != 0 {
			// short-EF addressing (P1 = 80|SFI, P2 = offset) selects the EF
			if p1&0x60 != 0 || p1&0x1F == 0 {
				h.malformed("READ BINARY offset beyond 15 bits")
				return nil, 0x6A86, le
			}
			if _, ok := h.files[uint16(p1&0x1F)]; !ok {
				return nil, 0x6A82, le
			}
			h.curEF, off = uint16(p1&0x1F), int(p2)
		}
		f := h.files[h.curEF]
		if off >= len(f) {
			return nil, 0x6B00, le
		}
		return f[off:min(off+le, len(f))], 0x9000, le
	case 0x20:
		if len(data) == 0 {
			return nil, 0x63C3, le
		}
		h.verifies++
		return nil, 0x63C2, le
	case 0x24:
		h.changes++
		return nil, 0x6982, le
	case 0x2A:
		if len(data) == 0 { // a scheme probe (SupportsScheme): no signature
			return nil, 0x6700, le
		}
		h.signs++
		return make([]byte, 256), 0x9000, le
	}
	return nil, 0x6D00, le
}

func (h *hostileCard) Transmit(cmd []byte) ([]byte, error) {
	h.n++
	if h.n > hostileLimit {
		return nil, errHostileLoop
	}
	data, sw, le := h.honest(cmd)
	q := h.next()
	if q != 0 {
		h.deviated = true
	}
	p := int(q >> 3)
	switch q & 7 {
	case 1: // any status word, no data
		return h.out(nil, uint16(h.next())<<8|uint16(h.next())), nil
	case 2: // honest data with any status word
		return h.out(data, uint16(h.next())<<8|uint16(h.next())), nil
	case 3: // no data, success
		return h.out(nil, 0x9000), nil
	case 4: // data truncated to p bytes
		return h.out(data[:min(p, len(data))], sw), nil
	case 5: // more data than Le
		extra := make([]byte, 0, 300) // on the stack: does not escape
		extra = append(extra, data...)
		for len(extra) < le+p+1 {
			extra = append(extra, 0xEE)
		}
		return h.out(extra, 0x9000), nil
	case 6: // 0 or 1 byte: no status word
		b := h.ring[h.ringPos%len(h.ring)][:p%2]
		h.ringPos++
		return b, nil
	case 7: // transport error
		return nil, hostileErrs[p%len(hostileErrs)]
	}
	return h.out(data, sw), nil
}

// heapAllocs reads the bytes allocated so far by the whole program.
func heapAllocs() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// Bounds a hostile card must not push ReadFile beyond: an honest 32 KiB file takes
// 2 SELECTs, the 7-byte header read and 128 chunks of 256 bytes; the allocation
// bound is the 32 KiB file with its append growth and per-command overhead.
const (
	maxReadFileAPDUs  = 200
	maxReadFileAllocs = 320 << 10
)

// FuzzReadFile reads a fuzz-given EF through a hostile card: no panic, a bounded
// number of commands, bounded allocation, no PIN or signature command, well-formed
// commands, and from an honest card exactly the DER element the file starts with.
func FuzzReadFile(f *testing.F) {
	f.Add([]byte{0x30, 0x82, 0x01, 0x00}, []byte{})
	big := append([]byte{0x30, 0x82, 0x7F, 0xFB}, make([]byte, 0x7FFB)...) // the largest file
	f.Add(big, []byte{})
	f.Add(big, []byte{0x80, 0x3C}) // 7 bytes per read, forever
	f.Add([]byte{0x30, 0x83, 0x01, 0x00, 0x00}, []byte{})
	f.Add([]byte{0x30, 0x80, 0x00, 0x00}, []byte{})
	f.Add([]byte{0x1F, 0x82, 0x01, 0x00}, []byte{})
	f.Add([]byte{0x30, 0x05, 1, 2}, []byte{})                                                       // length past the file
	f.Add(append([]byte{0x30, 0x82, 0x02, 0x00}, make([]byte, 0x204)...), []byte{0, 0, 0x85, 0x03}) // more than Le, then empty
	f.Fuzz(func(t *testing.T, file, quirks []byte) {
		// The heap counter is process-wide (the fuzz engine's own goroutines add to it):
		// an input fails the bound only when three runs all exceed it.
		var h *hostileCard
		var out []byte
		var err error
		alloc := uint64(0)
		for range 3 {
			h = newHostile(map[uint16][]byte{EFAuthCert: file}, quirks)
			c := New(h)
			before := heapAllocs()
			out, err = c.ReadFile(EFAuthCert)
			if alloc = heapAllocs() - before; alloc <= maxReadFileAllocs {
				break
			}
		}
		if h.n > maxReadFileAPDUs {
			t.Fatalf("ReadFile sent %d commands (bound %d): a hostile card makes it loop", h.n, maxReadFileAPDUs)
		}
		if alloc > maxReadFileAllocs {
			t.Fatalf("ReadFile allocated %d bytes (bound %d)", alloc, maxReadFileAllocs)
		}
		if h.bad != "" {
			t.Fatalf("malformed command sent: %s", h.bad)
		}
		if h.verifies+h.signs+h.changes != 0 {
			t.Fatalf("ReadFile sent %d VERIFY, %d sign, %d change commands", h.verifies, h.signs, h.changes)
		}
		if err == nil {
			total, derr := DERLength(out)
			if derr != nil || total != len(out) || len(out) > MaxFileSize+1 {
				t.Fatalf("ReadFile returned %d bytes whose DER length is %d (%v)", len(out), total, derr)
			}
		}
		if h.deviated {
			return
		}
		// An honest card: the result is exactly the file's first DER element, or an
		// error when the file is not one.
		total, derr := DERLength(file)
		switch {
		case derr != nil || total > len(file):
			if err == nil {
				t.Fatalf("ReadFile succeeded (%d bytes) on a file of %d bytes that is no complete DER element", len(out), len(file))
			}
		case err != nil:
			t.Fatalf("ReadFile of an honest %d-byte element: %v", total, err)
		case string(out) != string(file[:total]):
			t.Fatalf("ReadFile returned other bytes than the file's")
		}
	})
}

// FuzzDERLength: never a panic; a length is always within the header and the
// 15-bit file bound.
func FuzzDERLength(f *testing.F) {
	for _, s := range [][]byte{{}, {0x30}, {0x30, 0x00}, {0x30, 0x7F}, {0x30, 0x80}, {0x30, 0x81, 0xFF},
		{0x30, 0x82, 0x7F, 0xFB}, {0x30, 0x82, 0x7F, 0xFC}, {0x30, 0x82, 0xFF, 0xFF}, {0x30, 0x84, 0xFF, 0xFF, 0xFF, 0xFF},
		{0x1F, 0x81, 0x01}, {0x30, 0x82, 0x01}} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, head []byte) {
		n, err := DERLength(head)
		if err != nil {
			return
		}
		hdr := 2
		if head[1] >= 0x80 {
			hdr += int(head[1] & 0x7F)
		}
		if n < hdr || n > MaxFileSize+1 || hdr > len(head) {
			t.Fatalf("DERLength(% X) = %d (header %d bytes)", head, n, hdr)
		}
	})
}

// FuzzParseResponse: any byte string either has a status word or is refused.
func FuzzParseResponse(f *testing.F) {
	for _, s := range [][]byte{{}, {0x90}, {0x90, 0x00}, {0x63, 0xC2}, {0x01, 0x02, 0x6A, 0x82}, make([]byte, 258)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, err := ParseResponse(raw)
		if len(raw) < 2 {
			if err == nil {
				t.Fatalf("% X accepted without a status word", raw)
			}
			return
		}
		if err != nil || len(r.Data) != len(raw)-2 || cap(r.Data) != len(r.Data) {
			t.Fatalf("ParseResponse(% X) = %+v, %v", raw, r, err)
		}
		if (r.Err() == nil) != (r.SW == 0x9000) {
			t.Fatalf("SW %04X: Err() = %v", r.SW, r.Err())
		}
		var se StatusError
		if r.SW != 0x9000 && (!errors.As(r.Err(), &se) || uint16(se) != r.SW || se.Error() == "") {
			t.Fatalf("SW %04X lost in %v", r.SW, r.Err())
		}
	})
}

// FuzzTokenInfo: the token-info and presence parsers and Classify accept any bytes.
func FuzzTokenInfo(f *testing.F) {
	f.Add([]byte("JPKIAPICCTOKEN2                 J-LIS"), []byte{1, 1, 0})
	f.Add([]byte("JPKIAPICCTOKEN                  "), []byte{0, 1, 0})
	f.Add([]byte{}, []byte{})
	f.Add([]byte{0xFF, 0x00, 0x20, 0x7F}, []byte{1})
	f.Fuzz(func(t *testing.T, ti, pr []byte) {
		label := ParseTokenLabel(ti)
		if len(label) > 32 {
			t.Fatalf("label of %d bytes", len(label))
		}
		for i := 0; i < len(label); i++ {
			if label[i] < 0x20 || label[i] >= 0x7F {
				t.Fatalf("label %q has a non-printable byte", label)
			}
		}
		if label != "" && label[len(label)-1] == ' ' {
			t.Fatalf("label %q keeps a trailing space", label)
		}
		sign, auth := ParsePresence(pr)
		k := Classify(Info{TokenLabel: label, HasSignCert: sign, HasAuthCert: auth})
		if k < KindNotJPKI || k > KindUnknownJPKI || k.String() == "unknown" {
			t.Fatalf("Classify: kind %d", k)
		}
	})
}

// FuzzIdentify identifies a hostile card (fuzz-given EF 0006 and 0008, quirks):
// no panic, few commands, never a PIN or signature command, a valid kind.
func FuzzIdentify(f *testing.F) {
	f.Add([]byte("JPKIAPICCTOKEN2                 "), []byte{1, 1, 0}, []byte{}, byte(0))
	f.Add([]byte("JPKIAPICCTOKEN                  "), []byte{}, []byte{0x01, 0x6A, 0x82}, byte(1))
	f.Add([]byte{}, []byte{}, []byte{0x80, 0x0C}, byte(0))
	f.Add([]byte("JPKIAPICCTOKEN2"), []byte{0}, []byte{0, 0, 0x85, 0x03}, byte(2))
	f.Fuzz(func(t *testing.T, ti, pr, quirks []byte, resets byte) {
		files := map[uint16][]byte{EFTokenInfo: ti}
		if len(pr) > 0 {
			files[EFPresence] = pr
		}
		h := newHostile(files, quirks)
		h.beginErrs = int(resets % 3)
		c := New(h)
		info, err := c.Identify()
		if h.n > 20 {
			t.Fatalf("Identify sent %d commands", h.n)
		}
		if h.bad != "" {
			t.Fatalf("malformed command sent: %s", h.bad)
		}
		if h.verifies+h.signs+h.changes != 0 {
			t.Fatalf("Identify sent %d VERIFY, %d sign, %d change commands", h.verifies, h.signs, h.changes)
		}
		if err != nil {
			return
		}
		if info.Kind < KindNotJPKI || info.Kind > KindUnknownJPKI || len(info.TokenLabel) > 32 {
			t.Fatalf("Identify: %+v", info)
		}
	})
}

// FuzzHostileOps runs a fuzz-chosen sequence of card operations against a hostile
// card. Whatever the card answers: no panic, every operation returns after a
// bounded number of commands, a VERIFY with data is sent at most once per Verify
// or ChangePIN call (never retried) and never for a malformed PIN, and a
// signature command is only sent while this Card believes the key is verified.
func FuzzHostileOps(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7}, []byte{})
	f.Add([]byte{3, 4, 3, 4}, []byte{0x01, 0x90, 0x00, 0x01, 0x90, 0x00})
	f.Add([]byte{3, 5, 4}, []byte{0x80, 0x01, 0x63, 0xC1})
	f.Add([]byte{2, 0, 6, 1}, []byte{0x07, 0x0F, 0x3A, 0x1C})
	f.Fuzz(func(t *testing.T, ops, quirks []byte) {
		if len(ops) > 64 {
			ops = ops[:64]
		}
		cert := append([]byte{0x30, 0x82, 0x01, 0x00}, make([]byte, 0x100)...)
		files := map[uint16][]byte{EFTokenInfo: []byte(LabelMyNumber), EFPresence: {1, 1, 0},
			EFAuthCert: cert, EFAuthCACert: cert, EFSignCert: cert, EFSignCACert: cert}
		h := newHostile(files, quirks)
		c := New(h)
		for _, op := range ops {
			k := AuthKey
			if op&0x80 != 0 {
				k = SignKey
			}
			n0, v0, s0 := h.n, h.verifies, h.signs
			wasVerified := c.LoggedIn(k)
			var pinCalls int
			switch op & 0x0F % 10 {
			case 0:
				_, _ = c.Identify()
			case 1:
				_, _ = c.ReadFile(k.CertFile())
			case 2:
				_, _ = c.ReadHead(k.CACertFile(), 1+int(op>>4)*16)
			case 3:
				_, _ = c.TriesLeft(k)
			case 4:
				pin := "7391"
				if k == SignKey {
					pin = "QWERTY7391"
				}
				pinCalls = 1
				_ = c.Verify(k, []byte(pin))
			case 5:
				_ = c.Verify(k, []byte("73 1")) // malformed for both keys
			case 6:
				_, _ = c.Sign(k, SchemePKCS1, make([]byte, 51))
			case 7:
				_ = c.Logout(k)
			case 8:
				pinCalls = 1
				_ = c.ChangePIN(AuthKey, []byte("7391"), []byte("1234"))
			case 9:
				_, _ = c.SupportsScheme(k, op>>4)
			}
			if h.n-n0 > maxReadFileAPDUs {
				t.Fatalf("op %02X sent %d commands", op, h.n-n0)
			}
			if h.verifies-v0 > pinCalls {
				t.Fatalf("op %02X sent %d VERIFY with data (allowed %d): a PIN try retried or a malformed PIN sent", op, h.verifies-v0, pinCalls)
			}
			if h.signs > s0 && !wasVerified {
				t.Fatalf("op %02X sent a signature command while the %v key was not verified", op, k)
			}
		}
		if h.bad != "" {
			t.Fatalf("malformed command sent: %s", h.bad)
		}
	})
}

// TestReadFileRefusesShortChunks: a card answering fewer bytes than asked before
// the end its DER header announced is refused at once, not read 7 bytes at a
// time (4,683 commands for a 32 KiB file before the fix).
func TestReadFileRefusesShortChunks(t *testing.T) {
	big := append([]byte{0x30, 0x82, 0x7F, 0xFB}, make([]byte, 0x7FFB)...)
	h := newHostile(map[uint16][]byte{EFAuthCert: big}, []byte{0x80, 0x3C}) // every answer cut to 7 bytes
	_, err := New(h).ReadFile(EFAuthCert)
	if err == nil || h.n > 4 {
		t.Fatalf("ReadFile: %v after %d commands, want an error after at most 4", err, h.n)
	}
}
