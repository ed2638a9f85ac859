package session

import (
	"slices"
	"testing"

	"github.com/jpki-pkcs11/jpki-pkcs11/ck"
	"github.com/jpki-pkcs11/jpki-pkcs11/vcard"
)

func TestTokensFromParams(t *testing.T) {
	for _, c := range []struct {
		params string
		want   Tokens
		found  bool
		bad    bool
	}{
		{"", BothTokens, false, false},
		{"tokens=auth", AuthOnly, true, false},
		{"TOKENS=Sign", SignOnly, true, false},
		{"debug=1 tokens=both", BothTokens, true, false},
		{`configdir='x' tokens="sign";`, SignOnly, true, false},
		{"tokenset=auth", BothTokens, false, false},
		{"tokens=all", BothTokens, true, true},
	} {
		got, found, err := TokensFromParams(c.params)
		if got != c.want || found != c.found || (err != nil) != c.bad {
			t.Errorf("TokensFromParams(%q) = %v %v %v, want %v %v bad=%v", c.params, got, found, err, c.want, c.found, c.bad)
		}
	}
}

// TestOneToken: Config.Tokens shows one token of the card only; the other slot of
// the reader says CKR_TOKEN_NOT_PRESENT.
func TestOneToken(t *testing.T) {
	for _, c := range []struct {
		tokens Tokens
		want   []ck.ULong
	}{{AuthOnly, []ck.ULong{0}}, {SignOnly, []ck.ULong{1}}, {BothTokens, []ck.ULong{0, 1}}} {
		sys := newFakeSystem(reader0)
		sys.Insert(reader0, newVCard(t, vcard.Options{}))
		m, err := New(Config{System: sys, Tokens: c.tokens})
		if err != nil {
			t.Fatal(err)
		}
		got, err := m.SlotList(true)
		must(t, "SlotList", err)
		if !slices.Equal(got, c.want) {
			t.Errorf("tokens %v: present slots %v, want %v", c.tokens, got, c.want)
		}
		for _, s := range []ck.ULong{0, 1} {
			_, err := m.TokenInfo(s)
			if slices.Contains(c.want, s) {
				must(t, "TokenInfo", err)
			} else {
				wantRV(t, "TokenInfo of a hidden token", err, ck.CKR_TOKEN_NOT_PRESENT)
			}
		}
		m.Close()
	}
}

// TestAuthTokenAlone: shown alone (tokens=auth), the authentication token has the
// usual login-required layout: its key is CKA_PRIVATE and not always-authenticate.
func TestAuthTokenAlone(t *testing.T) {
	sys := newFakeSystem(reader0)
	sys.Insert(reader0, newVCard(t, vcard.Options{}))
	m, err := New(Config{System: sys, Tokens: AuthOnly})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	ti, err := m.TokenInfo(0)
	must(t, "TokenInfo", err)
	if ti.Flags&ck.CKF_LOGIN_REQUIRED == 0 {
		t.Fatalf("flags %#x: want CKF_LOGIN_REQUIRED", ti.Flags)
	}
	h := open(t, m, 0, false)
	if got := find(t, m, h, classTmpl(ck.CKO_PRIVATE_KEY)); len(got) != 0 {
		t.Fatalf("private key visible before login: %v", got)
	}
	must(t, "Login", m.Login(h, ck.CKU_USER, []byte("1234")))
	priv := find(t, m, h, classTmpl(ck.CKO_PRIVATE_KEY))
	if len(priv) != 1 || attr(t, m, h, priv[0], ck.CKA_PRIVATE)[0] != 1 || attr(t, m, h, priv[0], ck.CKA_ALWAYS_AUTHENTICATE)[0] != 0 {
		t.Fatalf("private key after login: %v", priv)
	}
	sha := Mechanism{Type: ck.CKM_SHA256_RSA_PKCS}
	must(t, "SignInit", m.SignInit(h, sha, priv[0]))
	if _, err := m.Sign(h, []byte("x")); err != nil {
		t.Fatal(err)
	}
	must(t, "Logout", m.Logout(h))
	_, err = m.GetAttributeValue(h, priv[0], []ck.ULong{ck.CKA_LABEL})
	wantRV(t, "private key after logout", err, ck.CKR_OBJECT_HANDLE_INVALID)
}
