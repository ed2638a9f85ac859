// Identification: what kind of JPKI token is in the reader (EF 0006, EF 0008).

package card

import (
	"errors"
	"fmt"
)

// Identify selects the JPKI AP and reads the token info and certificate-presence
// EFs. A card without the AP is asked for the My Number Card's own applications
// (AIDCardFaceInput, AIDCardFaceCheck): one that answers makes it
// KindUnknownJPKI, none KindNotJPKI; either way there is no error.
func (c *Card) Identify() (Info, error) {
	var info Info
	err := c.Do(func() error {
		c.selected = false // always check the AP is there: identification starts clean
		if err := c.selectAP(); errors.Is(err, ErrNoJPKI) {
			aid, err := c.selectOtherAP()
			if err != nil {
				return err
			}
			info.Kind, info.OtherAP = KindNotJPKI, aid
			if aid != nil {
				info.Kind = KindUnknownJPKI
			}
			return nil
		} else if err != nil {
			return err
		}
		ti, err := c.readTokenInfo()
		if err != nil {
			return err
		}
		info.Token = ParseTokenInfo(ti)
		info.TokenLabel = info.Token.Label
		pr, err := c.readFirst(EFPresence, 3)
		if err != nil && !errors.Is(err, ErrFileNotFound) {
			return err
		}
		if err == nil {
			info.Presence = pr
		}
		info.HasSignCert, info.HasAuthCert = ParsePresence(pr)
		return nil
	})
	if err != nil {
		return Info{}, err
	}
	if info.Kind == 0 {
		info.Kind = Classify(info)
		info.AuthCertNeedsPIN = info.Kind == KindAndroid
	}
	return info, nil
}

// readTokenInfo reads EF 0006 in one READ BINARY of TokenInfoSize bytes (a card
// answers what is left of a shorter file with 90 00). A card that refuses that
// Le is asked again: with the length it gives (6C xx), or for the 32 bytes of
// the label, which is what identification needs.
func (c *Card) readTokenInfo() ([]byte, error) {
	b, err := c.readFirst(EFTokenInfo, TokenInfoSize)
	var se StatusError
	if !errors.As(err, &se) {
		return b, err
	}
	switch {
	case se&0xFF00 == 0x6C00 && se&0xFF != 0:
		return c.readFirst(EFTokenInfo, int(se&0xFF))
	case se == ErrWrongLength, se == ErrOffsetOutOfRange, se == 0x6282:
		return c.readFirst(EFTokenInfo, 32)
	}
	return nil, err
}

// selectOtherAP selects the My Number Card's own applications one after the
// other and returns the AID of the first that answers 90 00 (nil when none does).
// Only transport errors are errors.
func (c *Card) selectOtherAP() ([]byte, error) {
	for _, aid := range [][]byte{AIDCardFaceInput, AIDCardFaceCheck} {
		r, err := c.transmit(Command{CLA: 0x00, INS: 0xA4, P1: 0x04, P2: 0x0C, Data: aid})
		if err != nil {
			return nil, fmt.Errorf("select My Number Card application: %w", err)
		}
		c.lost() // another AP is selected now: the JPKI AP must be selected again
		if r.SW == 0x9000 {
			return aid, nil
		}
	}
	return nil, nil
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
	case LabelAndroid:
		return KindAndroid
	case LabelIPhone:
		return KindIPhone
	}
	if !info.HasSignCert {
		return KindMyNumberNoSign
	}
	return KindMyNumber
}
