package nss

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jpki-pkcs11/jpki-pkcs11/test/clients/clienttest"
)

// TestFirefoxClientAuth: Firefox ESR headless, with the module added to its profile's
// NSS database by modutil, completes a TLS 1.2 client-authenticated request to
// openssl s_server -Verify 1 with the card's authentication key; the server sees
// the card's certificate. Firefox raises exactly one PIN prompt, for the
// authentication token, over two page loads (several handshakes), and the
// signature certificate (EF 0001) is never read.
//
// With the module parameter tokens=auth (docs/ONE-PIN.md: the authentication
// token alone, login-required) the same holds: one prompt, no EF 0001.
func TestFirefoxClientAuth(t *testing.T) {
	if _, err := os.Stat("/usr/bin/firefox-esr"); err != nil {
		t.Fatal("firefox-esr is not installed (make deps installs it)")
	}
	t.Run("both-tokens", func(t *testing.T) { firefoxLogin(t, fx.SharedCard(t), clienttest.AuthToken) })
	t.Run("tokens=auth", func(t *testing.T) { firefoxLogin(t, fx.SharedCard(t), clienttest.AuthToken, "-string", "tokens=auth") })
}

// firefoxLogin runs the TLS login of TestFirefoxClientAuth with the card c, whose
// authentication token is labelled token; modutilArgs are more modutil -add
// arguments.
func firefoxLogin(t *testing.T, c *clienttest.Card, token string, modutilArgs ...string) {
	env := clienttest.Env(t)
	dir := t.TempDir()
	srvPKI := clienttest.NewServerPKI(t, "jpki-pkcs11 test CA")
	cn := commonName(c.Subject(t, "auth.der"))

	// the profile: its NSS database holds the module and trusts the server
	prof := filepath.Join(dir, "profile")
	if err := os.MkdirAll(prof, 0o700); err != nil {
		t.Fatal(err)
	}
	db := "sql:" + prof
	clienttest.MustRun(t, env, "certutil", "-N", "-d", db, "--empty-password")
	clienttest.MustRun(t, env, "modutil", append([]string{"-dbdir", db, "-add", "JPKI", "-libfile", fx.Module, "-force"},
		modutilArgs...)...)
	clienttest.MustRun(t, env, "certutil", "-A", "-d", db, "-n", "test CA", "-t", "CT,C,C", "-i", srvPKI.CA)
	mport, port := clienttest.FreePort(t), clienttest.FreePort(t)
	clienttest.WriteFirefoxPrefs(t, prof, mport)

	srv := start(t, nil, "openssl", "s_server", "-accept", fmt.Sprintf("127.0.0.1:%d", port), "-cert", srvPKI.Cert,
		"-key", srvPKI.Key, "-CAfile", c.PEM(t, "authca.der"), "-Verify", "1", "-tls1_2", "-www")
	waitPort(t, port)
	home := filepath.Join(dir, "home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatal(err)
	}
	ff := start(t, append(env, "HOME="+home, "MOZ_HEADLESS=1"), "firefox-esr", "--headless", "--marionette",
		"--remote-allow-system-access", "--no-remote", "-profile", prof, "about:blank")

	m, err := clienttest.DialMarionette(mport, 90*time.Second, marionetteTimeout)
	if err != nil {
		t.Fatalf("%v\nfirefox output:\n%s", err, ff.output())
	}
	defer m.Close()
	if _, err := m.Call("WebDriver:NewSession", map[string]any{"capabilities": map[string]any{}}, marionetteTimeout); err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(m.SetContext("chrome", marionetteTimeout))
	must(m.Script(clienttest.PromptAnswerer, []any{clienttest.AuthPIN}, nil, marionetteTimeout))
	must(m.SetContext("content", marionetteTimeout))

	mark := fx.PC.Mark()
	must2(t, m, "WebDriver:Navigate", map[string]any{"url": fmt.Sprintf("https://127.0.0.1:%d/", port)})
	raw, err := m.Call("WebDriver:GetPageSource", map[string]any{}, marionetteTimeout)
	must(err)
	var page string
	json.Unmarshal(raw, &page)
	// a second page: new connections (s_server -www closes each one), new
	// handshakes signed with the card, and no new prompt: the token stays logged in
	must2(t, m, "WebDriver:Navigate", map[string]any{"url": fmt.Sprintf("https://127.0.0.1:%d/again", port)})
	must(m.SetContext("chrome", marionetteTimeout))
	var prompts []string
	must(m.Script(`return JSON.parse(Services.prefs.getStringPref("jpki.test.prompts", "[]"));`, nil, &prompts, marionetteTimeout))
	m.Call("Marionette:Quit", map[string]any{"flags": []string{"eForceQuit"}}, marionetteTimeout)

	// the server verified the card's certificate and shows it on its page
	clienttest.Contains(t, "s_server page (in Firefox)", page, "Client certificate", "CN="+cn)
	clienttest.Contains(t, "s_server log", srv.output(), "depth=0 C = JP, CN = "+cn, "verify return:1")
	// one prompt, for the authentication token
	if len(prompts) != 1 || !strings.Contains(prompts[0], "password: ") || !strings.Contains(prompts[0], token) {
		t.Fatalf("prompts %q: want exactly one password prompt, for %q", prompts, token)
	}
	// the card saw one PIN (the authentication PIN) and no access to EF 0001
	if n := fx.APDUsSince(t, mark, `^00 20 00 80 [0-9A-F]{2} `); n != 1 {
		t.Fatalf("%d VERIFY commands with a PIN during the TLS login, want 1", n)
	}
	if n := fx.APDUsSince(t, mark, `^00 A4 02 0C 02 00 1B\b`); n != 0 {
		t.Fatalf("the signature PIN EF was selected %d times during the TLS login", n)
	}
	if n := fx.APDUsSince(t, mark, efSignCert); n != 0 {
		t.Fatalf("EF 0001 (signature certificate) accessed %d times during the TLS login", n)
	}
	if mechs := clienttest.SignMechanisms(t, env); len(mechs) < 2 {
		t.Fatalf("Firefox signed %d handshakes through the module, want at least 2 (two pages)", len(mechs))
	}
}

// marionetteTimeout bounds each Marionette command (and Firefox's greeting).
const marionetteTimeout = 3 * time.Minute

func must2(t *testing.T, m *clienttest.Marionette, name string, params any) {
	t.Helper()
	if _, err := m.Call(name, params, marionetteTimeout); err != nil {
		t.Fatal(err)
	}
}

// proc is a background program stopped (with its process group) when the test ends.
type proc struct {
	mu  sync.Mutex
	buf []byte
}

func (p *proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(p.buf, b...)
	return len(b), nil
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return string(p.buf)
}

// start runs name args in the background until the test ends.
func start(t *testing.T, env []string, name string, args ...string) *proc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := clienttest.Cmd(ctx, env, name, args...)
	p := &proc{}
	cmd.Stdout, cmd.Stderr = p, p
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("%s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
		if t.Failed() {
			t.Logf("%s output (tail):\n%s", name, tailOf(p.output(), 4000))
		}
	})
	return p
}

func tailOf(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// waitPort waits until something listens on 127.0.0.1:port.
func waitPort(t *testing.T, port int) {
	t.Helper()
	for i := 0; i < 100; i++ {
		if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 200*time.Millisecond); err == nil {
			c.Close()
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("nothing listens on port %d", port)
}
