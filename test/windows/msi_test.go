package windowstest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jpki-pkcs11/jpki-pkcs11/test/harness"
)

// policyKey is where Firefox reads its SecurityDevices enterprise policy on Windows.
const policyKey = `HKLM\SOFTWARE\Policies\Mozilla\Firefox\SecurityDevices`

// TestMSI: `make msi` writes build/jpki-pkcs11-VERSION-x64.msi (wixl); under Wine
// `msiexec /i` installs jpki-pkcs11.dll under Program Files and registers it with
// Firefox's SecurityDevices policy; the installed DLL runs the Windows test host
// against the virtual card (objects, signatures verified by openssl, exactly one
// wrong-PIN try); `msiexec /x` removes the files and the registration.
func TestMSI(t *testing.T) {
	need(t)
	if out, err := harness.Make("msi"); err != nil {
		t.Fatalf("make msi: %v\n%s", err, out)
	}
	v, err := os.ReadFile(filepath.Join(env.root, "internal/version/VERSION"))
	if err != nil {
		t.Fatal(err)
	}
	msi := filepath.Join(env.root, "build", "jpki-pkcs11-"+strings.TrimSpace(string(v))+"-x64.msi")
	if _, err := os.Stat(msi); err != nil {
		t.Fatal(err)
	}
	if out, err := wine(t, 5*time.Minute, nil, "msiexec", "/i", winPath(msi), "/qn"); err != nil {
		t.Fatalf("msiexec /i: %v\n%s", err, out)
	}
	dll := filepath.Join(env.prefix, "drive_c", "Program Files", "jpki-pkcs11", "jpki-pkcs11.dll")
	want, _ := os.ReadFile(filepath.Join(env.root, "build", "jpki-pkcs11.dll"))
	if got, err := os.ReadFile(dll); err != nil || len(want) == 0 || string(got) != string(want) {
		t.Fatalf("msiexec /i did not install build/jpki-pkcs11.dll as %s (%v)", dll, err)
	}
	out, err := wine(t, time.Minute, nil, "reg", "query", policyKey, "/v", "JPKI My Number Card")
	if err != nil || !strings.Contains(out, `C:\Program Files\jpki-pkcs11\jpki-pkcs11.dll`) {
		t.Fatalf("no Firefox SecurityDevices policy for the installed DLL (%v):\n%s", err, out)
	}

	master, err := env.pc.NewCardDir("msi-master")
	if err != nil {
		t.Fatal(err)
	}
	r := runHost(t, "msi", master, func(out string, pins []string) (string, error) {
		return wine(t, 5*time.Minute, pins, filepath.Join(env.win, "host.exe"),
			`C:\Program Files\jpki-pkcs11\jpki-pkcs11.dll`, winPath(filepath.Join(out, "canon.txt")), winPath(out))
	})
	for _, key := range []string{"auth", "sign"} {
		verifySignature(t, r, key, master)
	}

	if out, err := wine(t, 5*time.Minute, nil, "msiexec", "/x", winPath(msi), "/qn"); err != nil {
		t.Fatalf("msiexec /x: %v\n%s", err, out)
	}
	if _, err := os.Stat(dll); !os.IsNotExist(err) {
		t.Fatalf("msiexec /x left %s (%v)", dll, err)
	}
	if _, err := os.Stat(filepath.Dir(dll)); !os.IsNotExist(err) {
		t.Fatalf("msiexec /x left the folder %s (%v)", filepath.Dir(dll), err)
	}
	if out, err := wine(t, time.Minute, nil, "reg", "query", policyKey, "/v", "JPKI My Number Card"); err == nil {
		t.Fatalf("msiexec /x left the Firefox policy:\n%s", out)
	}
}
