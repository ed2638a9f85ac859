package session

import (
	"fmt"
	"strings"
)

// ParseTokens reads a token selection: "auth", "sign" or "both" (case-insensitive;
// "" is both).
func ParseTokens(v string) (Tokens, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "both":
		return BothTokens, nil
	case "auth":
		return AuthOnly, nil
	case "sign":
		return SignOnly, nil
	}
	return BothTokens, fmt.Errorf("tokens=%q: want auth, sign or both", v)
}

// TokensFromParams finds "tokens=auth|sign|both" in a module parameter string,
// the one NSS passes from `modutil -add ... -string "tokens=auth"` (and p11-kit
// from a module file's x-init-reserved) in CK_C_INITIALIZE_ARGS.pReserved. Words
// are separated by white space, ';' or ','; other words are ignored. found is
// false when the string has no tokens= word; a malformed value is an error.
func TokensFromParams(params string) (t Tokens, found bool, err error) {
	for _, w := range strings.FieldsFunc(params, func(r rune) bool {
		return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == ';' || r == ','
	}) {
		k, v, ok := strings.Cut(w, "=")
		if !ok || !strings.EqualFold(k, "tokens") {
			continue
		}
		t, err = ParseTokens(strings.Trim(v, `"'`))
		return t, true, err
	}
	return BothTokens, false, nil
}

// String names the selection as ParseTokens reads it.
func (t Tokens) String() string {
	switch t {
	case AuthOnly:
		return "auth"
	case SignOnly:
		return "sign"
	}
	return "both"
}
