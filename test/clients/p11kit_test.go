package clients

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/jpki-pkcs11/jpki-pkcs11/test/clients/clienttest"
	"github.com/jpki-pkcs11/jpki-pkcs11/test/harness"
)

// p11kitConfigs is p11-kit's module config directory (pkg-config p11-kit-1).
func p11kitConfigs(t *testing.T) string {
	t.Helper()
	out := strings.TrimSpace(clienttest.MustRun(t, nil, "pkg-config", "--variable=p11_module_configs", "p11-kit-1"))
	if out == "" {
		t.Fatal("pkg-config gives no p11_module_configs")
	}
	return out
}

// makeInstall runs make target in the repository root with vars ("K=V").
func makeInstall(t *testing.T, target string, vars ...string) string {
	t.Helper()
	out, err := harness.Make(append([]string{target}, vars...)...)
	if err != nil {
		t.Fatalf("make %s %v: %v\n%s", target, vars, err, out)
	}
	return out
}

// TestInstallDestdir: `make install DESTDIR=... PREFIX=/usr` puts the module in
// $(LIBDIR)/pkcs11/ and a p11-kit module file naming it; `make uninstall` removes both.
func TestInstallDestdir(t *testing.T) {
	dest := t.TempDir()
	vars := []string{"DESTDIR=" + dest, "PREFIX=/usr"}
	makeInstall(t, "install", vars...)
	mod := filepath.Join(dest, "usr/lib/pkcs11/jpki-pkcs11.so")
	conf := filepath.Join(dest, p11kitConfigs(t), "jpki-pkcs11.module")
	want, err := os.ReadFile(fx.Built)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(mod); err != nil || string(got) != string(want) {
		t.Fatalf("installed module %s differs from %s (%v)", mod, fx.Built, err)
	}
	c, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(c), "\nmodule: /usr/lib/pkcs11/jpki-pkcs11.so\n") {
		t.Fatalf("module file %s does not name the installed module:\n%s", conf, c)
	}
	makeInstall(t, "uninstall", vars...)
	for _, p := range []string{mod, conf} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Fatalf("%s still there after make uninstall (%v)", p, err)
		}
	}
	// LIBDIR alone moves the module.
	makeInstall(t, "install", "DESTDIR="+dest, "LIBDIR=/opt/jpki/lib")
	if _, err := os.Stat(filepath.Join(dest, "opt/jpki/lib/pkcs11/jpki-pkcs11.so")); err != nil {
		t.Fatal(err)
	}
	makeInstall(t, "uninstall", "DESTDIR="+dest, "LIBDIR=/opt/jpki/lib")
}

// TestInstallListModules installs for real (root; default PREFIX=/usr/local), checks
// that `p11-kit list-modules` shows the module with both tokens of the card and
// that p11tool finds them through p11-kit's proxy, and uninstalls (also when the
// test fails).
func TestInstallListModules(t *testing.T) {
	sharedTokens(t)
	conf := filepath.Join(p11kitConfigs(t), "jpki-pkcs11.module")
	if _, err := os.Stat(conf); err == nil {
		t.Fatalf("%s exists before the test: a real installation is in the way", conf)
	}
	t.Cleanup(func() {
		out, err := harness.Make("uninstall")
		if err != nil {
			t.Errorf("make uninstall: %v\n%s", err, out)
		}
		if _, err := os.Stat(conf); !os.IsNotExist(err) {
			t.Errorf("%s still there after make uninstall", conf)
		}
	})
	makeInstall(t, "install")
	out := clienttest.MustRun(t, clienttest.Env(t), "p11-kit", "list-modules")
	// Our block: "jpki-pkcs11: /usr/local/lib/pkcs11/jpki-pkcs11.so" and its indented lines.
	var mine []string
	in := false
	for _, l := range strings.Split(out, "\n") {
		if !strings.HasPrefix(l, " ") {
			in = l == "jpki-pkcs11: /usr/local/lib/pkcs11/jpki-pkcs11.so"
		}
		if in {
			mine = append(mine, l)
		}
	}
	if len(mine) == 0 {
		t.Fatalf("p11-kit list-modules does not show jpki-pkcs11 at /usr/local/lib/pkcs11:\n%s", out)
	}
	clienttest.Contains(t, "p11-kit list-modules (jpki-pkcs11)", strings.Join(mine, "\n"), "library-description: JPKI My Number Card",
		"token: "+clienttest.AuthToken, "token: "+clienttest.SignToken, "model: My Number Card")
	// GnuTLS without --provider goes through p11-kit's proxy and finds the card.
	urls := clienttest.MustRun(t, clienttest.Env(t), "p11tool", "--list-token-urls")
	clienttest.Contains(t, "p11tool --list-token-urls (p11-kit proxy)", urls,
		"token="+clienttest.URIEscape(clienttest.AuthToken), "token="+clienttest.URIEscape(clienttest.SignToken))
}

// TestP11KitServer: `p11-kit server` loads the module and exports both tokens; a
// client process loads only p11-kit-client.so (the out-of-process route for
// forking servers) and lists, logs in and signs; openssl verifies the signature.
func TestP11KitServer(t *testing.T) {
	tk := sharedTokens(t)
	env := clienttest.Env(t)
	addr := fx.P11KitServer(t, env, "pkcs11:token="+clienttest.URIEscape(clienttest.AuthToken), "pkcs11:token="+clienttest.URIEscape(clienttest.SignToken))
	cenv := append(os.Environ(), "P11_KIT_SERVER_ADDRESS="+addr)
	tool := func(args ...string) string {
		t.Helper()
		return clienttest.MustRun(t, cenv, "pkcs11-tool", append([]string{"--module", clienttest.P11KitClient}, args...)...)
	}
	slots := clienttest.ParseSlots(tool("-L"))
	auth := clienttest.TokenSlot(t, slots, clienttest.AuthToken)
	sign := clienttest.TokenSlot(t, slots, clienttest.SignToken)
	dir := t.TempDir()
	data := make([]byte, 1000)
	_, _ = rand.Read(data)
	in := clienttest.WriteFile(t, dir, "data", data, 0o600)
	for _, c := range []struct {
		slot     int
		pin, der string
		id       string
	}{{auth, clienttest.AuthPIN, "auth.der", "01"}, {sign, clienttest.SignPIN, "sign.der", "02"}} {
		sig := filepath.Join(dir, c.der+".sig")
		tool("--slot", itoa(c.slot), "--login", "--pin", c.pin, "--sign", "-m", "SHA256-RSA-PKCS", "--id", c.id,
			"-i", in, "-o", sig)
		out := clienttest.MustRun(t, nil, "openssl", "dgst", "-sha256", "-verify", tk.card.PubKey(t, c.der), "-signature", sig, in)
		clienttest.Contains(t, "openssl dgst -verify", out, "Verified OK")
	}
	// The signing happened in the server's process, through our module.
	if m := clienttest.SignMechanisms(t, env); len(m) != 2 {
		t.Fatalf("module log shows %d sign operations, want 2", len(m))
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestP11KitInitReserved: a p11-kit module file's `x-init-reserved: tokens=...`
// reaches the module (p11-kit passes it in C_Initialize's pReserved) and shows one
// token in `p11-kit list-modules` and through p11-kit's proxy module. (GnuTLS
// initialises the modules with its own arguments, which carry no pReserved: p11tool
// shows both tokens; the README says so.) p11-kit reads no user configuration as
// root, so the module file goes in a private mount namespace over p11-kit's
// system module directory: no other process sees it.
func TestP11KitInitReserved(t *testing.T) {
	sharedTokens(t)
	for _, c := range []struct {
		option     string
		show, hide string
	}{
		{"tokens=auth", clienttest.AuthToken, clienttest.SignToken},
		{"tokens=sign", clienttest.SignToken, clienttest.AuthToken},
	} {
		t.Run(c.option, func(t *testing.T) {
			dir := t.TempDir()
			clienttest.WriteFile(t, dir, "jpki-pkcs11.module",
				[]byte("module: "+fx.Built+"\nx-init-reserved: "+c.option+"\n"), 0o644)
			script := `mount --bind "$1" "$2" && p11-kit list-modules && echo '--- proxy' && pkcs11-tool --module "$3" -L`
			out := clienttest.MustRun(t, clienttest.Env(t), "unshare", "-m", "--propagation", "private",
				"sh", "-c", script, "sh", dir, p11kitConfigs(t), clienttest.P11KitProxy)
			mods, listed, _ := strings.Cut(out, "--- proxy")
			clienttest.Contains(t, "p11-kit list-modules", mods, "jpki-pkcs11: "+fx.Built, "token: "+c.show)
			clienttest.Contains(t, "pkcs11-tool --module p11-kit-proxy.so -L", listed, "token label        : "+c.show)
			if strings.Contains(out, c.hide) {
				t.Fatalf("%s: the other token %q is shown:\n%s", c.option, c.hide, out)
			}
		})
	}
}
