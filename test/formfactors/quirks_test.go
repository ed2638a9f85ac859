package formfactors

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/jpki-pkcs11/jpki-pkcs11/card"
	"github.com/jpki-pkcs11/jpki-pkcs11/test/clients/clienttest"
)

// exchange is one command pcscd logged and the status word that came back.
type exchange struct{ cmd, sw string }

var (
	apduRe = regexp.MustCompile(` APDU: ([0-9A-F ]+)$`)
	swRe   = regexp.MustCompile(` SW: (?:[0-9A-F ]* )?([0-9A-F]{2} [0-9A-F]{2})$`)
)

// exchanges pairs the commands pcscd logged since mark with their status words.
func exchanges(t *testing.T, mark int64) []exchange {
	t.Helper()
	f, err := os.Open(fx.PC.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Seek(mark, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	var out []exchange
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), " ")
		if m := apduRe.FindStringSubmatch(line); m != nil {
			out = append(out, exchange{cmd: strings.TrimSpace(m[1])})
		} else if m := swRe.FindStringSubmatch(line); m != nil && len(out) > 0 && out[len(out)-1].sw == "" {
			out[len(out)-1].sw = m[1]
		}
	}
	return out
}

// slotsOf returns the authentication and signature slot of reader 0's card.
func slotsOf(t *testing.T, env []string) (auth, sign int, list string) {
	t.Helper()
	list = tool(t, env, "-L")
	slots := clienttest.ParseSlots(list)
	return clienttest.TokenSlot(t, slots, clienttest.AuthToken), clienttest.TokenSlot(t, slots, clienttest.SignToken), list
}

// TestQuirkVerify9000: on a card whose tries query answers 90 00 right after a
// good VERIFY, the card layer counts the full tries and keeps the login (it
// signs next); through the module two processes log in and sign, and the token
// shows no low PIN count; jpki pin status says 3.
func TestQuirkVerify9000(t *testing.T) {
	c := fx.StartCard(t, 0, "--quirk", "verify-9000")
	cc := fx.PC.Connect(t, 0)
	mark := fx.PC.Mark()
	if err := cc.Verify(card.AuthKey, []byte(clienttest.AuthPIN)); err != nil {
		t.Fatal(err)
	}
	if n, err := cc.TriesLeft(card.AuthKey); err != nil || n != 3 || !cc.LoggedIn(card.AuthKey) {
		t.Fatalf("tries after a good VERIFY: %d %v, logged in %v", n, err, cc.LoggedIn(card.AuthKey))
	}
	ex := exchanges(t, mark)
	if last := ex[len(ex)-1]; last.cmd != "00 20 00 80" || last.sw != "90 00" {
		t.Fatalf("the card did not answer the tries query with 90 00: %+v", last)
	}
	h := sha256.Sum256([]byte("verify-9000"))
	if _, err := cc.Sign(card.AuthKey, card.SchemePKCS1, append(digestInfoSHA256(), h[:]...)); err != nil {
		t.Fatalf("sign after the tries query: %v", err)
	}
	env := clienttest.Env(t)
	auth, _, _ := slotsOf(t, env)
	for range 2 {
		signVerify(t, env, c, auth, clienttest.AuthPIN, "01", "auth.der", "SHA256-RSA-PKCS")
	}
	if out := tool(t, env, "-T"); regexp.MustCompile(`(?i)PIN (count low|final try|locked)`).MatchString(out) {
		t.Fatalf("pkcs11-tool -T after good logins:\n%s", out)
	}
	var ps struct {
		Auth int `json:"auth_tries"`
		Sign int `json:"sign_tries"`
	}
	if err := json.Unmarshal([]byte(mustJPKI(t, "", "pin", "status", "--json")), &ps); err != nil || ps.Auth != 3 || ps.Sign != 5 {
		t.Fatalf("jpki pin status: %+v %v", ps, err)
	}
}

func digestInfoSHA256() []byte {
	return []byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}
}

// TestQuirkBlocked63C0: a card whose tries query answers 63 C0 for a blocked
// PIN: after three wrong logins the module shows the authentication PIN locked
// and refuses a login without sending the PIN; jpki says BLOCKED and asks
// nothing; the signature token still works.
func TestQuirkBlocked63C0(t *testing.T) {
	c := fx.StartCard(t, 0, "--quirk", "blocked-63c0")
	env := clienttest.Env(t)
	auth, _, _ := slotsOf(t, env)
	for i, rv := range []string{"CKR_PIN_INCORRECT", "CKR_PIN_INCORRECT", "CKR_PIN_LOCKED"} {
		out, err := fx.PKCS11Tool(t, env, slotArgs(auth, "--login", "--pin", "0000", "-O")...)
		if err == nil || !strings.Contains(out, rv) {
			t.Fatalf("wrong PIN %d: want %s:\n%s", i+1, rv, out)
		}
	}
	mark := fx.PC.Mark()
	_, _, list := slotsOf(t, env)
	if !regexp.MustCompile(`token flags *:.*user PIN locked`).MatchString(list) {
		t.Fatalf("the blocked PIN is not shown locked:\n%s", list)
	}
	out, err := fx.PKCS11Tool(t, env, slotArgs(auth, "--login", "--pin", clienttest.AuthPIN, "-O")...)
	if err == nil || !strings.Contains(out, "CKR_PIN_LOCKED") {
		t.Fatalf("login on a blocked PIN: %v\n%s", err, out)
	}
	saw63C0 := false
	for _, e := range exchanges(t, mark) {
		if strings.HasPrefix(e.cmd, "00 20 00 80 ") {
			t.Fatalf("a PIN was sent to a blocked PIN: %s", e.cmd)
		}
		saw63C0 = saw63C0 || e.cmd == "00 20 00 80" && e.sw == "63 C0"
	}
	if !saw63C0 {
		t.Fatal("the card never answered the tries query with 63 C0")
	}
	clienttest.Contains(t, "jpki status", mustJPKI(t, "", "status"), "authentication PIN: BLOCKED")
	if _, errs, code := jpki(t, clienttest.AuthPIN+"\n", "sign", "--key", "auth", "--pin-stdin", c.PEM(t, "auth.der")); code == 0 ||
		!strings.Contains(errs, "blocked") {
		t.Fatalf("jpki sign --key auth on a blocked PIN: exit %d: %s", code, errs)
	}
	_, sign, _ := slotsOf(t, env)
	signVerify(t, env, c, sign, clienttest.SignPIN, "02", "sign.der", "SHA256-RSA-PKCS")
}

// TestQuirkLen6985: the PSS probe stays conclusive on a card that answers 69 85
// to a wrong input length: PSS is offered and signs (openssl verifies) on a card
// with PSS, not offered on a card without; the probe sends no PIN and signs
// nothing.
func TestQuirkLen6985(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		pss  bool
	}{{"pss", []string{"--quirk", "len-6985"}, true}, {"no-pss", []string{"--quirk", "len-6985", "--no-pss"}, false}} {
		t.Run(tc.name, func(t *testing.T) {
			c := fx.StartCard(t, 0, tc.args...)
			env := clienttest.Env(t)
			_, sign, _ := slotsOf(t, env)
			mark := fx.PC.Mark()
			mechs := tool(t, env, slotArgs(sign, "-M")...)
			if strings.Contains(mechs, "RSA-PKCS-PSS") != tc.pss {
				t.Fatalf("PSS listed: %v, want %v:\n%s", !tc.pss, tc.pss, mechs)
			}
			for _, e := range exchanges(t, mark) {
				if strings.HasPrefix(e.cmd, "00 20 ") && len(e.cmd) > 11 || strings.HasPrefix(e.cmd, "80 2A ") && len(e.cmd) > 11 {
					t.Fatalf("the probe sent %s", e.cmd)
				}
			}
			if tc.pss {
				signVerify(t, env, c, sign, clienttest.SignPIN, "02", "sign.der", "SHA256-RSA-PKCS-PSS")
			}
		})
	}
}

// TestQuirkNoShortEF: a card that refuses short-EF READ BINARY: a cold login and
// signature in a new process takes at most 19 APDUs and sends no short-EF
// signature command after the refusal (the measurement: 20 before);
// the signature verifies; jpki signs too.
func TestQuirkNoShortEF(t *testing.T) {
	c := fx.StartCard(t, 0, "--quirk", "no-short-ef")
	env := clienttest.Env(t)
	auth, _, _ := slotsOf(t, env)
	tool(t, env, slotArgs(auth, "-O")...)
	dir := t.TempDir()
	data := make([]byte, 1000)
	rand.Read(data)
	in := clienttest.WriteFile(t, dir, "data", data, 0o600)
	sig := filepath.Join(dir, "sig")
	mark := fx.PC.Mark()
	tool(t, env, slotArgs(auth, "--login", "--pin", clienttest.AuthPIN, "--sign", "-m", "SHA256-RSA-PKCS", "--id", "01", "-i", in, "-o", sig)...)
	ex := exchanges(t, mark)
	if len(ex) > 19 {
		t.Fatalf("a cold login and signature took %d APDUs, want at most 19: %+v", len(ex), ex)
	}
	refused := false
	for _, e := range ex {
		f := strings.Fields(e.cmd)
		if f[0] == "00" && f[1] == "B0" && f[2] >= "80" && e.sw != "90 00" {
			refused = true
		}
		if refused && f[0] == "80" && f[1] == "2A" && (f[3] == "97" || f[3] == "9A") {
			t.Fatalf("a short-EF signature command (%s) after the card refused a short-EF READ BINARY", e.cmd)
		}
	}
	if !refused {
		t.Fatal("the card never refused a short-EF READ BINARY (is the quirk on?)")
	}
	t.Logf("cold login + signature: %d APDUs", len(ex))
	clienttest.Contains(t, "openssl dgst -verify", clienttest.MustRun(t, nil, "openssl", "dgst", "-sha256", "-verify",
		c.PubKey(t, "auth.der"), "-signature", sig, in), "Verified OK")
	doc := clienttest.WriteFile(t, dir, "doc.txt", []byte("no short EF"), 0o644)
	mustJPKI(t, clienttest.SignPIN+"\n", "sign", "--pin-stdin", "--detached", "--out", filepath.Join(dir, "doc.p7s"), doc)
	clienttest.Contains(t, "jpki verify", mustJPKI(t, "", "verify", "--ca", filepath.Join(c.Dir, "signca.der"), doc, filepath.Join(dir, "doc.p7s")), "signature valid")
}

// TestEF0008: EF 0008 holds 8F for a present certificate; another non-zero value
// (40 40 00) is taken as present and logged; 00 hides the signature token.
func TestEF0008(t *testing.T) {
	for _, tc := range []struct {
		hex    string
		tokens int
		logged bool
	}{{"8F8F00", 2, false}, {"404000", 2, true}, {"008F00", 1, false}} {
		t.Run(tc.hex, func(t *testing.T) {
			fx.StartCard(t, 0, "--ef0008", tc.hex)
			env := clienttest.Env(t)
			n := 0
			for _, s := range clienttest.ParseSlots(tool(t, env, "-L")) {
				if s.Token != "" {
					n++
				}
			}
			if n != tc.tokens {
				t.Fatalf("%d tokens, want %d", n, tc.tokens)
			}
			if got := clienttest.LogCount(t, env, `EF 0008 holds a value other than 00 or 8F`) > 0; got != tc.logged {
				t.Fatalf("unexplained EF 0008 logged: %v, want %v", got, tc.logged)
			}
			st := mustJPKI(t, "", "status")
			if strings.Contains(st, "signature certificate: none on this card") != (tc.tokens == 1) {
				t.Fatalf("jpki status:\n%s", st)
			}
		})
	}
}
