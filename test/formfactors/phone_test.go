package formfactors

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jpki-pkcs11/jpki-pkcs11/session"
	"github.com/jpki-pkcs11/jpki-pkcs11/test/clients/clienttest"
	"github.com/jpki-pkcs11/jpki-pkcs11/test/testpdf"
)

// efAuthCert matches, in pcscd's APDU log, a read of EF 000A (the authentication
// certificate): its SELECT or a READ BINARY by short EF 0A.
const efAuthCert = `^00 A4 02 0C 02 00 0A\b|^00 B0 8A `

// TestAndroidPhoneModule: the Android smartphone certificate (jpki-vcard new
// --phone android) through the built module and pkcs11-tool: two tokens named
// for a smartphone; the authentication token requires a login and shows its
// certificate, public key and private key only after it (EF 000A is not asked
// before); the signature token as for a card; both keys sign and the signatures
// verify with openssl against the card's certificates; two phones get two
// serials.
func TestAndroidPhoneModule(t *testing.T) {
	c := fx.StartCard(t, 0, "--phone", "android")
	c2 := fx.StartCard(t, 1, "--phone", "android")
	env := clienttest.Env(t)
	mark := fx.PC.Mark()
	list := tool(t, env, "-L")
	slots := clienttest.ParseSlots(list)
	auth := clienttest.TokenSlot(t, slots[:2], session.PhoneAuthTokenLabel)
	sign := clienttest.TokenSlot(t, slots[:2], session.PhoneSignTokenLabel)
	if !strings.Contains(slots[auth].Flags, "login required") || !strings.Contains(slots[sign].Flags, "login required") {
		t.Fatalf("token flags %q / %q: both tokens of a phone require a login", slots[auth].Flags, slots[sign].Flags)
	}
	if !strings.Contains(list, "token model        : Android phone") {
		t.Fatalf("no token model says phone:\n%s", list)
	}
	if slots[auth].Serial == "" || slots[auth].Serial == slots[2].Serial {
		t.Fatalf("serials %q and %q: two phones, one serial", slots[auth].Serial, slots[2].Serial)
	}
	_ = c2
	// before the login: the CA certificate only; EF 000A never asked
	objs := clienttest.ParseObjects(tool(t, env, slotArgs(auth, "-O")...))
	if clienttest.Count(objs, "Certificate") != 1 || clienttest.Count(objs, "Private Key") != 0 || clienttest.Count(objs, "Public Key") != 0 {
		t.Fatalf("objects before login: %+v (want the CA certificate only)", objs)
	}
	if n := fx.APDUsSince(t, mark, efAuthCert); n != 0 {
		t.Fatalf("EF 000A read %d times before the authentication PIN", n)
	}
	objs = clienttest.ParseObjects(tool(t, env, slotArgs(auth, "--login", "--pin", clienttest.AuthPIN, "-O")...))
	if clienttest.Count(objs, "Certificate") != 2 || clienttest.Count(objs, "Private Key") != 1 || clienttest.Count(objs, "Public Key") != 1 {
		t.Fatalf("objects after login: %+v", objs)
	}
	signVerify(t, env, c, auth, clienttest.AuthPIN, "01", "auth.der", "SHA256-RSA-PKCS")
	signVerify(t, env, c, sign, clienttest.SignPIN, "02", "sign.der", "SHA256-RSA-PKCS")
}

// signVerify signs random data with pkcs11-tool (login with pin, key id, mech)
// and verifies the signature with openssl against the card's certificate der,
// which must also be what the token exports after the login.
func signVerify(t *testing.T, env []string, c *clienttest.Card, slot int, pin, id, der, mech string) {
	t.Helper()
	dir := t.TempDir()
	cert := filepath.Join(dir, "cert.der")
	tool(t, env, slotArgs(slot, "--login", "--pin", pin, "--read-object", "--type", "cert", "--id", id, "-o", cert)...)
	got, _ := os.ReadFile(cert)
	want, _ := os.ReadFile(filepath.Join(c.Dir, der))
	if len(want) == 0 || string(got) != string(want) {
		t.Fatalf("the token exports another certificate than the card's %s", der)
	}
	data := clienttest.WriteFile(t, dir, "data", []byte(strings.Repeat("form factors ", 100)), 0o600)
	sig := filepath.Join(dir, "sig")
	tool(t, env, slotArgs(slot, "--login", "--pin", pin, "--sign", "-m", mech, "--id", id, "-i", data, "-o", sig)...)
	args := []string{"dgst", "-sha256", "-verify", c.PubKey(t, der), "-signature", sig}
	if strings.HasSuffix(mech, "-PSS") {
		args = append(args, "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:-1")
	}
	clienttest.Contains(t, "openssl dgst -verify "+mech, clienttest.MustRun(t, nil, "openssl", append(args, data)...), "Verified OK")
}

// TestAndroidPhoneCLI: jpki status names the phone, shows its tries and no false
// warning; certs (asking the authentication PIN the phone needs), holder, sign
// with either key and pdf sign work, each signature valid.
func TestAndroidPhoneCLI(t *testing.T) {
	c := fx.StartCard(t, 0, "--phone", "android")
	out := mustJPKI(t, "", "status")
	clienttest.Contains(t, "jpki status", out, "card: Android smartphone certificate", "authentication PIN: 3 tries left",
		"signature password: 5 tries left", "readable only after the authentication PIN")
	if strings.Contains(out, "warning") {
		t.Fatalf("jpki status warns about a phone:\n%s", out)
	}
	var st struct {
		Readers []struct {
			Card     string   `json:"card"`
			Warnings []string `json:"warnings"`
		} `json:"readers"`
	}
	if err := json.Unmarshal([]byte(mustJPKI(t, "", "status", "--json")), &st); err != nil || st.Readers[0].Card != "android_phone" {
		t.Fatalf("status --json: %+v %v", st, err)
	}
	dir := t.TempDir()
	mustJPKI(t, clienttest.AuthPIN+"\n", "certs", "--pin-stdin", "--der", "--out", dir)
	got, _ := os.ReadFile(filepath.Join(dir, "auth.der"))
	want, _ := os.ReadFile(filepath.Join(c.Dir, "auth.der"))
	if string(got) != string(want) {
		t.Fatal("jpki certs wrote another authentication certificate")
	}
	clienttest.Contains(t, "jpki holder", mustJPKI(t, clienttest.SignPIN+"\n", "holder", "--pin-stdin"), "JPKI TARO")
	doc := clienttest.WriteFile(t, dir, "doc.txt", []byte("signed on a phone"), 0o644)
	for _, k := range []struct{ key, pin, ca string }{{"auth", clienttest.AuthPIN, "authca.der"}, {"sign", clienttest.SignPIN, "signca.der"}} {
		sig := filepath.Join(dir, k.key+".p7s")
		mustJPKI(t, k.pin+"\n", "sign", "--key", k.key, "--detached", "--pin-stdin", "--out", sig, doc)
		clienttest.Contains(t, "jpki verify", mustJPKI(t, "", "verify", "--ca", filepath.Join(c.Dir, k.ca), doc, sig), "signature valid")
	}
	in, signed := filepath.Join(dir, "in.pdf"), filepath.Join(dir, "out.pdf")
	os.WriteFile(in, testpdf.Minimal("Signed on a phone"), 0o644)
	mustJPKI(t, clienttest.SignPIN+"\n", "pdf", "sign", in, signed, "--pin-stdin")
	res, err := exec.Command("pdfsig", signed).CombinedOutput()
	if err != nil || !strings.Contains(string(res), "Signature is Valid") {
		t.Fatalf("pdfsig on the PDF signed with the phone: %v\n%s", err, res)
	}
}

// TestIPhoneAndUnknownJPKI: an iPhone's label and a My Number Card without a
// JPKI application this version knows show no token; the module's log and jpki
// status say why, in the words the issue asks.
func TestIPhoneAndUnknownJPKI(t *testing.T) {
	fx.StartCard(t, 0, "--phone", "ios")
	fx.StartCard(t, 1, "--quirk", "no-jpki-ap")
	env := clienttest.Env(t)
	for _, s := range clienttest.ParseSlots(tool(t, env, "-L")) {
		if s.Token != "" {
			t.Fatalf("slot %d shows token %q", s.ID, s.Token)
		}
	}
	if clienttest.LogCount(t, env, `iPhone smartphone certificate: no token: no public evidence`) == 0 ||
		clienttest.LogCount(t, env, `a My Number Card whose JPKI application this version does not know \(a newer card generation\?\)`) == 0 {
		t.Fatal("the module's log does not say why there is no token")
	}
	out := mustJPKI(t, "", "status")
	clienttest.Contains(t, "jpki status", out, "iPhone smartphone certificate (not supported)",
		"a My Number Card whose JPKI application this version does not know (a newer card generation?)")
	if strings.Contains(out, "not a JPKI card") {
		t.Fatalf("jpki status calls a My Number Card not a JPKI card:\n%s", out)
	}
}
