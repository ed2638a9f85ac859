package setup

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jpki-pkcs11/jpki-pkcs11/test/clients/clienttest"
)

// firefox is a headless Firefox ESR on a profile, stopped with the test.
type firefox struct {
	pidN   int
	cancel context.CancelFunc
	done   chan struct{}
	out    clienttest.Buffer
	once   sync.Once
}

func (f *firefox) pid() int { return f.pidN }

// stop ends Firefox and waits until it has released the profile.
func (f *firefox) stop(t *testing.T) {
	t.Helper()
	f.once.Do(func() { f.cancel(); <-f.done })
}

// startFirefox runs firefox-esr headless on prof (HOME from env); with mport > 0
// it listens for Marionette on that port.
func startFirefox(t *testing.T, env []string, prof string, mport int) *firefox {
	t.Helper()
	args := []string{"--headless", "--no-remote", "-profile", prof}
	if mport > 0 {
		args = append(args, "--marionette", "--remote-allow-system-access")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := clienttest.Cmd(ctx, append(env, "MOZ_HEADLESS=1"), "firefox-esr", append(args, "about:blank")...)
	f := &firefox{cancel: cancel, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = &f.out, &f.out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	f.pidN = cmd.Process.Pid
	go func() { _ = cmd.Wait(); close(f.done) }()
	t.Cleanup(func() {
		f.stop(t)
		if t.Failed() {
			out := f.out.String()
			if len(out) > 3000 {
				out = out[len(out)-3000:]
			}
			t.Logf("firefox output (tail):\n%s", out)
		}
	})
	return f
}

const marionetteTimeout = 3 * time.Minute

// firefoxLogin: Firefox on the profile set up by jpki setup loads a page from
// openssl s_server -Verify 1 that requires the card's authentication
// certificate; the server sees it, and Firefox asked for the PIN once.
func firefoxLogin(t *testing.T, env []string, c *clienttest.Card, prof string) {
	t.Helper()
	srvPKI := clienttest.NewServerPKI(t, "jpki setup test server CA")
	clienttest.MustRun(t, nil, "certutil", "-A", "-d", "sql:"+prof, "-n", "test server CA", "-t", "CT,,", "-i", srvPKI.CA)
	mport, port := clienttest.FreePort(t), clienttest.FreePort(t)
	clienttest.WriteFirefoxPrefs(t, prof, mport)
	srv := clienttest.StartServer(t, port, nil, "openssl", "s_server", "-accept", fmt.Sprintf("127.0.0.1:%d", port),
		"-cert", srvPKI.Cert, "-key", srvPKI.Key, "-CAfile", c.PEM(t, "authca.der"), "-Verify", "1", "-tls1_2", "-www")
	ff := startFirefox(t, env, prof, mport)
	defer ff.stop(t)
	m, err := clienttest.DialMarionette(mport, 90*time.Second, marionetteTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err = m.Call("WebDriver:NewSession", map[string]any{"capabilities": map[string]any{}}, marionetteTimeout)
	must(err)
	must(m.SetContext("chrome", marionetteTimeout))
	must(m.Script(clienttest.PromptAnswerer, []any{clienttest.AuthPIN}, nil, marionetteTimeout))
	must(m.SetContext("content", marionetteTimeout))
	_, err = m.Call("WebDriver:Navigate", map[string]any{"url": fmt.Sprintf("https://127.0.0.1:%d/", port)}, marionetteTimeout)
	must(err)
	raw, err := m.Call("WebDriver:GetPageSource", map[string]any{}, marionetteTimeout)
	must(err)
	var page string
	_ = json.Unmarshal(raw, &page)
	must(m.SetContext("chrome", marionetteTimeout))
	var prompts []string
	must(m.Script(`return JSON.parse(Services.prefs.getStringPref("jpki.test.prompts", "[]"));`, nil, &prompts, marionetteTimeout))
	_, _ = m.Call("Marionette:Quit", map[string]any{"flags": []string{"eForceQuit"}}, marionetteTimeout)
	clienttest.Contains(t, "s_server page (in Firefox)", page, "Client certificate")
	clienttest.Contains(t, "s_server log", srv.Output(), "depth=0 C = JP", "verify return:1")
	if len(prompts) != 1 || !strings.Contains(prompts[0], clienttest.AuthToken) {
		t.Fatalf("prompts %q: want exactly one password prompt, for %q", prompts, clienttest.AuthToken)
	}
}
