// Identification: what kind of JPKI token is in the reader (EF 0006, EF 0008).

package card

import "errors"

// Identify selects the JPKI AP and reads the token info and certificate-presence EFs.
// A card without the AP yields Info{Kind: KindNotJPKI} and no error.
func (c *Card) Identify() (Info, error) {
	var info Info
	err := c.Do(func() error {
		c.selected = false // always check the AP is there: identification starts clean
		if err := c.selectAP(); err != nil {
			return err
		}
		ti, err := c.readEF(EFTokenInfo, 32)
		if err != nil {
			return err
		}
		info.TokenLabel = ParseTokenLabel(ti)
		pr, err := c.readEF(EFPresence, 3)
		if err != nil && !errors.Is(err, ErrFileNotFound) {
			return err
		}
		info.HasSignCert, info.HasAuthCert = ParsePresence(pr)
		return nil
	})
	if errors.Is(err, ErrNoJPKI) {
		return Info{Kind: KindNotJPKI}, nil
	}
	if err != nil {
		return Info{}, err
	}
	info.Kind = Classify(info)
	return info, nil
}

// ParseTokenLabel returns the label of EF 0006: the first 32 bytes, trailing
// spaces and NULs trimmed, non-printable bytes dropped.
func ParseTokenLabel(b []byte) string {
	if len(b) > 32 {
		b = b[:32]
	}
	out := make([]byte, 0, len(b))
	for _, ch := range b {
		if ch >= 0x20 && ch < 0x7F {
			out = append(out, ch)
		}
	}
	for len(out) > 0 && out[len(out)-1] == ' ' {
		out = out[:len(out)-1]
	}
	return string(out)
}

// ParsePresence decodes EF 0008: byte 0 non-zero = signature certificate present,
// byte 1 non-zero = authentication certificate present. A short or missing file
// says the authentication certificate is present and the signature one is not
// known to be.
func ParsePresence(b []byte) (sign, auth bool) {
	if len(b) < 2 {
		return len(b) == 1 && b[0] != 0, true
	}
	return b[0] != 0, b[1] != 0
}

// Classify tells the kind of card from its token label and presence flags.
func Classify(info Info) Kind {
	switch info.TokenLabel {
	case LabelJuki:
		return KindJuki
	case LabelMyNumber:
		if !info.HasSignCert {
			return KindMyNumberNoSign
		}
		return KindMyNumber
	case LabelAndroid, LabelIPhone:
		return KindOther
	}
	if !info.HasSignCert {
		return KindMyNumberNoSign
	}
	return KindMyNumber
}
