package card

import "fmt"

// Command is a short ISO 7816-4 command APDU (Lc <= 255, Le <= 256).
type Command struct {
	CLA, INS, P1, P2 byte
	Data             []byte
	// Le is the expected response length: 0 means no Le field, 1..256 are
	// encoded as one byte (256 as 0x00).
	Le int
}

// Bytes encodes the command as a short APDU (ISO 7816-4 cases 1 to 4).
func (c Command) Bytes() ([]byte, error) {
	if len(c.Data) > 255 {
		return nil, fmt.Errorf("apdu: %d data bytes do not fit a short APDU", len(c.Data))
	}
	if c.Le < 0 || c.Le > 256 {
		return nil, fmt.Errorf("apdu: Le %d out of range", c.Le)
	}
	b := make([]byte, 0, 5+len(c.Data)+1)
	b = append(b, c.CLA, c.INS, c.P1, c.P2)
	if len(c.Data) > 0 {
		b = append(b, byte(len(c.Data)))
		b = append(b, c.Data...)
	}
	if c.Le > 0 {
		b = append(b, byte(c.Le)) // 256 wraps to 0x00
	}
	return b, nil
}

// Response is a response APDU split into data and status word.
type Response struct {
	Data []byte
	SW   uint16
}

// ParseResponse splits a raw response; it needs at least the two status bytes.
func ParseResponse(raw []byte) (Response, error) {
	if len(raw) < 2 {
		return Response{}, fmt.Errorf("apdu: response of %d bytes has no status word", len(raw))
	}
	n := len(raw) - 2
	return Response{Data: raw[:n:n], SW: uint16(raw[n])<<8 | uint16(raw[n+1])}, nil
}

// Err is nil for 90 00 and the typed status error otherwise.
func (r Response) Err() error {
	if r.SW == 0x9000 {
		return nil
	}
	return StatusError(r.SW)
}
