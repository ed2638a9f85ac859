package faults

import (
	"testing"

	"github.com/jpki-pkcs11/jpki-pkcs11/ck"
	"github.com/jpki-pkcs11/jpki-pkcs11/test/faults/host"
)

// TestReadOnlyToken: pkcs11test-style rules for a read-only token. The token says
// CKF_WRITE_PROTECTED; creating, copying, changing or destroying an object, and
// generating keys, on a valid session are refused with CKR_TOKEN_WRITE_PROTECTED
// (CKR_SESSION_READ_ONLY on a read-only session, where the specification allows
// either); a bad session handle is reported first. The same holds with the
// authentication token shown alone (tokens=auth, where it is login-required).
// C_GenerateRandom and CKR_ARGUMENTS_BAD ordering are covered by test/cabi.
func TestReadOnlyToken(t *testing.T) {
	serve(t, cardA, 0)
	t.Run("default", func(t *testing.T) { readOnlyToken(t, start(t), slotA, slotASign) })
	t.Run("tokens=auth", func(t *testing.T) {
		h := host.Start(t, append(pc.Env(), "JPKI_PKCS11_TOKENS=auth"))
		host.Expect(t, "C_Initialize", h.Call(call, "init"), ck.CKR_OK)
		readOnlyToken(t, h, slotA)
	})
}

// readOnlyToken is TestReadOnlyToken on the tokens of slots.
func readOnlyToken(t *testing.T, h *host.Host, slots ...int) {
	for _, slot := range slots {
		ti := h.Call(call, "tokinfo", slot)
		host.Expect(t, "C_GetTokenInfo", ti, ck.CKR_OK)
		if ck.ULong(ti.Uint(0))&ck.CKF_WRITE_PROTECTED == 0 {
			t.Fatalf("slot %d: token flags %#x without CKF_WRITE_PROTECTED", slot, ti.Uint(0))
		}
		ro := open(t, h, slot)
		rwr := h.Call(call, "openrw", slot)
		host.Expect(t, "C_OpenSession(RW) on a write-protected token", rwr, ck.CKR_OK, ck.CKR_TOKEN_WRITE_PROTECTED)
		obj := find(t, h, ro, ck.CKO_CERTIFICATE)[0]
		type sess struct {
			h    uint64
			name string
			want []ck.RV
		}
		cases := []sess{{ro, "read-only session", []ck.RV{ck.CKR_TOKEN_WRITE_PROTECTED, ck.CKR_SESSION_READ_ONLY}}}
		if rwr.RV == ck.CKR_OK {
			cases = append(cases, sess{rwr.Uint(0), "read-write session", []ck.RV{ck.CKR_TOKEN_WRITE_PROTECTED}})
		}
		for _, s := range cases {
			for _, c := range [][]any{{"create", s.h}, {"setattr", s.h, obj}, {"copy", s.h, obj}, {"destroy", s.h, obj}} {
				r := h.Call(call, c...)
				host.Expect(t, c[0].(string)+" on a "+s.name, r, s.want...)
			}
			// The key pair generation is refused too (the token cannot take objects).
			host.Expect(t, "C_GenerateKeyPair on a "+s.name, h.Call(call, "genkey", s.h),
				append(s.want, ck.CKR_FUNCTION_NOT_SUPPORTED, ck.CKR_MECHANISM_INVALID)...)
		}
		// A bad session handle comes before the write protection.
		for _, c := range [][]any{{"create", 0x7777}, {"setattr", 0x7777, obj}, {"copy", 0x7777, obj}, {"destroy", 0x7777, obj}} {
			host.Expect(t, c[0].(string)+" on a bad session", h.Call(call, c...), ck.CKR_SESSION_HANDLE_INVALID)
		}
	}
}
