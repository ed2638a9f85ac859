package session

import (
	"errors"
	"time"

	"github.com/jpki-pkcs11/jpki-pkcs11/card"
	"github.com/jpki-pkcs11/jpki-pkcs11/ck"
	"github.com/jpki-pkcs11/jpki-pkcs11/objects"
)

// Token labels (at most 32 bytes; NSS names a certificate "<token label>:<CKA_LABEL>").
const (
	AuthTokenLabel  = "JPKI Authentication"
	SignTokenLabel  = "JPKI Signature"
	manufacturer    = "J-LIS"
	libManufacturer = "jpki-pkcs11"

	// The Android smartphone certificate's tokens and model.
	PhoneAuthTokenLabel = "JPKI Smartphone Authentication"
	PhoneSignTokenLabel = "JPKI Smartphone Signature"
	phoneModel          = "Android phone"
)

func tokenLabel(k card.Kind, t objects.Token) string {
	switch {
	case k == card.KindAndroid && t == objects.SignToken:
		return PhoneSignTokenLabel
	case k == card.KindAndroid:
		return PhoneAuthTokenLabel
	case t == objects.SignToken:
		return SignTokenLabel
	}
	return AuthTokenLabel
}

// layout is the object layout of token t of the card cs under this
// configuration: objects.Layout; its login-required form for the authentication
// token shown alone; and for a card that shows the authentication certificate
// only after the PIN (card.Info.AuthCertNeedsPIN: the Android smartphone
// certificate) the form whose certificate and keys appear after the login. The
// layout is fixed once the card is identified (the object handles follow it).
func (m *Manager) layout(cs *cardState, t objects.Token) []objects.Spec {
	specs := objects.Layout(t)
	if m.tokens == AuthOnly && t == objects.AuthToken {
		specs = objects.Classic(specs)
	}
	if t == objects.AuthToken && cs.facts().info.AuthCertNeedsPIN {
		specs = objects.CertAfterLogin(specs)
	}
	return specs
}

// shows reports whether the configuration shows token t.
func (m *Manager) shows(t objects.Token) bool {
	switch m.tokens {
	case AuthOnly:
		return t == objects.AuthToken
	case SignOnly:
		return t == objects.SignToken
	}
	return true
}

// SlotList lists the slots (all, or those with a token present). Two slots per
// reader; the list never shrinks.
func (m *Manager) SlotList(tokenPresent bool) ([]ck.ULong, error) {
	if _, err := m.refresh(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	readers := append([]*reader(nil), m.readers...)
	cards := make([]*cardState, len(readers))
	for i, r := range readers {
		cards[i] = r.cur
	}
	m.mu.Unlock()
	var out []ck.ULong
	for i, r := range readers {
		for _, t := range []objects.Token{objects.AuthToken, objects.SignToken} {
			id := ck.ULong(2*r.idx) + ck.ULong(t-1)
			if !tokenPresent {
				out = append(out, id)
				continue
			}
			if cs := cards[i]; cs != nil && m.shows(t) && m.identify(cs).hasToken(t) {
				out = append(out, id)
			}
		}
	}
	return out, nil
}

// token returns the card of slot id if it shows the slot's token (after a
// refresh: no APDU unless the card is new), else CKR_TOKEN_NOT_PRESENT.
func (m *Manager) token(id ck.ULong) (*cardState, objects.Token, facts, error) {
	if _, err := m.refresh(); err != nil {
		return nil, 0, facts{}, err
	}
	r, t, err := m.slot(id)
	if err != nil {
		return nil, 0, facts{}, err
	}
	cs := m.cardIn(r)
	if cs == nil {
		return nil, t, facts{}, ck.CKR_TOKEN_NOT_PRESENT
	}
	if !m.shows(t) {
		return nil, t, facts{}, ck.CKR_TOKEN_NOT_PRESENT
	}
	f := m.identify(cs)
	if !f.hasToken(t) {
		return nil, t, f, ck.CKR_TOKEN_NOT_PRESENT
	}
	return cs, t, f, nil
}

// SlotInfo describes a slot from cached PC/SC state (no APDU after the card's
// first identification).
func (m *Manager) SlotInfo(slot ck.ULong) (SlotInfo, error) {
	_, _, _, err := m.token(slot)
	if err != nil && !errors.Is(err, ck.CKR_TOKEN_NOT_PRESENT) {
		return SlotInfo{}, err
	}
	r, t, _ := m.slot(slot)
	what := "authentication"
	if t == objects.SignToken {
		what = "signature"
	}
	info := SlotInfo{
		Description:     clip(r.name+" ("+what+")", 64),
		Manufacturer:    libManufacturer,
		Flags:           ck.CKF_REMOVABLE_DEVICE | ck.CKF_HW_SLOT,
		HardwareVersion: Version{0, 0},
		FirmwareVersion: Version{0, 0},
	}
	if err == nil {
		info.Flags |= ck.CKF_TOKEN_PRESENT
	}
	return info, nil
}

// clip cuts s to at most n bytes on a UTF-8 boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// TokenInfo describes the token of a slot. PIN counters come from the card's own
// counter, read once per insertion and updated from each login's answer.
func (m *Manager) TokenInfo(slot ck.ULong) (TokenInfo, error) {
	cs, t, f, err := m.token(slot)
	if err != nil {
		return TokenInfo{}, err
	}
	k := keyOf(t)
	info := TokenInfo{
		Label:              tokenLabel(f.info.Kind, t),
		Manufacturer:       manufacturer,
		Model:              "My Number Card",
		SerialNumber:       f.serial,
		Flags:              ck.CKF_USER_PIN_INITIALIZED | ck.CKF_TOKEN_INITIALIZED | ck.CKF_WRITE_PROTECTED,
		MaxSessionCount:    ck.CK_EFFECTIVELY_INFINITE,
		MaxRwSessionCount:  ck.CK_EFFECTIVELY_INFINITE,
		TotalPublicMemory:  ck.CK_UNAVAILABLE_INFORMATION,
		FreePublicMemory:   ck.CK_UNAVAILABLE_INFORMATION,
		TotalPrivateMemory: ck.CK_UNAVAILABLE_INFORMATION,
		FreePrivateMemory:  ck.CK_UNAVAILABLE_INFORMATION,
		HardwareVersion:    Version{1, 0},
		FirmwareVersion:    Version{1, 0},
	}
	if objects.RequiresLogin(m.layout(cs, t)) {
		// the authentication token (with the signature token beside it) leaves
		// it clear: NSS then never logs in to it on its own and asks the PIN at
		// the signature (docs/ONE-PIN.md)
		info.Flags |= ck.CKF_LOGIN_REQUIRED
	}
	if f.info.Kind == card.KindAndroid {
		info.Model = phoneModel
	}
	if t == objects.SignToken {
		info.MinPinLen, info.MaxPinLen = 6, 16
	} else {
		info.MinPinLen, info.MaxPinLen = 4, 4
	}
	tries, err := m.triesLeft(cs, k)
	switch {
	case removal(err):
		m.log.Warn("PIN counter unreadable: card gone", "reader", cs.reader, "key", k.String(), "err", err)
		return TokenInfo{}, ck.CKR_TOKEN_NOT_PRESENT
	case err != nil:
		// the token is there; only its counter is not known: no counter flags
		// (the next call asks the card again)
		m.log.Warn("PIN counter unreadable: token info without the PIN counter flags", "reader", cs.reader,
			"key", k.String(), "err", err)
	default:
		info.Flags |= pinFlags(tries, k.MaxTries())
	}
	m.mu.Lock()
	for _, s := range m.sessions {
		if s.cs == cs && s.tok == t {
			info.SessionCount++
			if s.rw {
				info.RwSessionCount++
			}
		}
	}
	m.mu.Unlock()
	return info, nil
}

// pinFlags gives CKF_USER_PIN_COUNT_LOW / FINAL_TRY / LOCKED from a counter.
func pinFlags(tries, max int) ck.ULong {
	switch {
	case tries < 0:
		return 0
	case tries == 0:
		return ck.CKF_USER_PIN_LOCKED
	case tries == 1:
		return ck.CKF_USER_PIN_FINAL_TRY | ck.CKF_USER_PIN_COUNT_LOW
	case tries < max:
		return ck.CKF_USER_PIN_COUNT_LOW
	}
	return 0
}

// WaitForSlotEvent returns a slot whose reader changed (card in or out, reader
// added) since the last report. With dontBlock it answers CKR_NO_EVENT at once;
// otherwise it waits, and Close wakes it with CKR_CRYPTOKI_NOT_INITIALIZED.
func (m *Manager) WaitForSlotEvent(dontBlock bool) (ck.ULong, error) {
	m.eventMu.Lock()
	defer m.eventMu.Unlock()
	for {
		sts, err := m.refresh()
		if err != nil && !errors.Is(err, ck.CKR_DEVICE_ERROR) {
			return 0, err
		}
		if id, ok := m.nextEvent(sts); ok {
			return id, nil
		}
		if dontBlock {
			return 0, ck.CKR_NO_EVENT
		}
		werr := m.sys.Wait(m.ctx, sts)
		if m.ctx.Err() != nil {
			return 0, errClosed
		}
		if werr != nil {
			// no reader or service gone: poll gently instead of spinning
			select {
			case <-m.ctx.Done():
				return 0, errClosed
			case <-time.After(500 * time.Millisecond):
			}
		}
	}
}

// nextEvent compares the readers' state with what was last reported.
func (m *Manager) nextEvent(sts []card.ReaderStatus) (ck.ULong, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range m.readers {
		st := card.ReaderStatus{Name: r.name}
		for _, s := range sts {
			if s.Name == r.name {
				st = s
			}
		}
		if st.Present != r.known.Present || (st.Present && st.Events != r.known.Events) {
			r.known = st
			return ck.ULong(2 * r.idx), true
		}
	}
	return 0, false
}
