package card

import (
	"bytes"
	"errors"
	"testing"
)

func TestCommandBytes(t *testing.T) {
	for _, tc := range []struct {
		name string
		cmd  Command
		want []byte
	}{
		{"case 1", Command{INS: 0x20, P2: 0x80}, []byte{0x00, 0x20, 0x00, 0x80}},
		{"case 2, Le 256 is 00", Command{INS: 0xB0, Le: 256}, []byte{0x00, 0xB0, 0x00, 0x00, 0x00}},
		{"case 2, Le 7", Command{INS: 0xB0, P1: 0x01, P2: 0x02, Le: 7}, []byte{0x00, 0xB0, 0x01, 0x02, 0x07}},
		{"case 3", Command{INS: 0xA4, P1: 2, P2: 0x0C, Data: []byte{0, 6}}, []byte{0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x06}},
		{"case 4", Command{CLA: 0x80, INS: 0x2A, P2: 0x80, Data: []byte{1, 2, 3}, Le: 256}, []byte{0x80, 0x2A, 0x00, 0x80, 0x03, 1, 2, 3, 0x00}},
	} {
		got, err := tc.cmd.Bytes()
		if err != nil || !bytes.Equal(got, tc.want) {
			t.Errorf("%s: got % X, %v; want % X", tc.name, got, err, tc.want)
		}
	}
	if _, err := (Command{Data: make([]byte, 256)}).Bytes(); err == nil {
		t.Error("256 data bytes accepted in a short APDU")
	}
	if _, err := (Command{Le: 257}).Bytes(); err == nil {
		t.Error("Le 257 accepted")
	}
	if _, err := (Command{Le: -1}).Bytes(); err == nil {
		t.Error("Le -1 accepted")
	}
}

func TestParseResponse(t *testing.T) {
	if _, err := ParseResponse([]byte{0x90}); err == nil {
		t.Error("1-byte response accepted")
	}
	if _, err := ParseResponse(nil); err == nil {
		t.Error("empty response accepted")
	}
	r, err := ParseResponse([]byte{1, 2, 0x90, 0x00})
	if err != nil || !bytes.Equal(r.Data, []byte{1, 2}) || r.SW != 0x9000 || r.Err() != nil {
		t.Errorf("got %+v %v", r, err)
	}
	r, _ = ParseResponse([]byte{0x6A, 0x82})
	if !errors.Is(r.Err(), ErrFileNotFound) {
		t.Errorf("6A82 is %v", r.Err())
	}
}

func TestStatusErrors(t *testing.T) {
	for _, tc := range []struct {
		sw       uint16
		wrongPIN bool
		blocked  bool
		tries    int
	}{
		{0x63C2, true, false, 2},
		{0x63C1, true, false, 1},
		{0x63C0, true, true, 0},
		{0x6984, false, true, -1},
		{0x6983, false, true, -1},
		{0x6982, false, false, -1},
	} {
		e := StatusError(tc.sw)
		// a status word alone is never about a PIN: only the answer to a PIN command is
		if errors.Is(e, ErrWrongPIN) || errors.Is(e, ErrPINBlocked) {
			t.Errorf("%04X alone matches a PIN sentinel", tc.sw)
		}
		var pe error = &PINError{Key: AuthKey, Op: "verify", SW: e}
		if errors.Is(pe, ErrWrongPIN) != tc.wrongPIN || errors.Is(pe, ErrPINBlocked) != tc.blocked {
			t.Errorf("%04X: wrong=%v blocked=%v", tc.sw, errors.Is(pe, ErrWrongPIN), errors.Is(pe, ErrPINBlocked))
		}
		var se StatusError
		if !errors.As(pe, &se) || se != e {
			t.Errorf("%04X: the PIN error lost its status word", tc.sw)
		}
		n, ok := e.TriesLeft()
		if ok != (tc.tries >= 0) || (ok && n != tc.tries) {
			t.Errorf("%04X: tries %d %v", tc.sw, n, ok)
		}
		if e.Error() == "" {
			t.Errorf("%04X: empty message", tc.sw)
		}
	}
	var wrapped error = StatusError(0x6A82)
	if !errors.Is(wrapped, ErrFileNotFound) || errors.Is(wrapped, ErrSecurityStatus) {
		t.Error("comparable status errors do not compare")
	}
}

func TestDERLength(t *testing.T) {
	for _, tc := range []struct {
		head []byte
		want int
		ok   bool
	}{
		{[]byte{0x30, 0x82, 0x05, 0xD2, 0x30}, 4 + 0x5D2, true},
		{[]byte{0x30, 0x81, 0x80}, 3 + 0x80, true},
		{[]byte{0x30, 0x10}, 0x12, true},
		{[]byte{0x30}, 0, false},
		{[]byte{0x30, 0x80}, 0, false},                   // indefinite
		{[]byte{0x30, 0x83, 0x01, 0x00, 0x00}, 0, false}, // 3 length bytes
		{[]byte{0x30, 0x82, 0x7F}, 0, false},             // truncated
		{[]byte{0x30, 0x82, 0xFF, 0xFF}, 0, false},       // beyond 15-bit offsets
		{[]byte{0x1F, 0x82, 0x00, 0x10}, 0, false},       // multi-byte tag
	} {
		got, err := DERLength(tc.head)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("% X: got %d, %v", tc.head, got, err)
		}
	}
}

func TestParseTokenLabelAndPresence(t *testing.T) {
	lbl := append([]byte("JPKIAPICCTOKEN2"), bytes.Repeat([]byte(" "), 17)...)
	if got := ParseTokenLabel(append(lbl, 0x01, 0x02)); got != LabelMyNumber {
		t.Errorf("label %q", got)
	}
	if got := ParseTokenLabel([]byte("JPKI\x00\x01AP ")); got != "JPKIAP" {
		t.Errorf("label with control bytes: %q", got)
	}
	for _, tc := range []struct {
		b          []byte
		sign, auth bool
	}{
		{[]byte{0x8F, 0x8F, 0x00}, true, true},
		{[]byte{0x00, 0x01, 0x00}, false, true},
		{nil, false, true},
		{[]byte{0x01}, true, true},
	} {
		s, a := ParsePresence(tc.b)
		if s != tc.sign || a != tc.auth {
			t.Errorf("% X: sign %v auth %v", tc.b, s, a)
		}
	}
	for _, tc := range []struct {
		info Info
		want Kind
	}{
		{Info{TokenLabel: LabelMyNumber, HasSignCert: true}, KindMyNumber},
		{Info{TokenLabel: LabelMyNumber}, KindMyNumberNoSign},
		{Info{TokenLabel: LabelJuki, HasSignCert: true}, KindJuki},
		{Info{TokenLabel: LabelIPhone}, KindIPhone},
		{Info{TokenLabel: LabelAndroid, HasSignCert: true}, KindAndroid},
		{Info{TokenLabel: LabelAndroid}, KindAndroid},
	} {
		if got := Classify(tc.info); got != tc.want {
			t.Errorf("%+v: %v", tc.info, got)
		}
	}
}
