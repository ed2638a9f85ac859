package tls13

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jpki-pkcs11/jpki-pkcs11/test/clients/clienttest"
)

// pinPrompter is the chrome-context script that replaces Firefox's prompt service:
// every password prompt (NSS asking for the token PIN) is answered with
// arguments[0] and recorded in the pref "jpki.test.prompts", which
// promptsRecorded reads back. Any other dialog is refused and recorded too.
const pinPrompter = `
const pin = arguments[0];
const record = (what) => {
  const seen = JSON.parse(Services.prefs.getStringPref("jpki.test.prompts", "[]"));
  seen.push(what);
  Services.prefs.setStringPref("jpki.test.prompts", JSON.stringify(seen));
};
const prompter = {
  QueryInterface: ChromeUtils.generateQI(["nsIPrompt"]),
  promptPassword(title, text, password) { record("password: " + text); password.value = pin; return true; },
  promptUsernameAndPassword(title, text) { record("username+password: " + text); return false; },
  prompt(title, text) { record("prompt: " + text); return false; },
  alert(title, text) { record("alert: " + text); },
  alertCheck(title, text) { record("alert: " + text); },
  confirm(title, text) { record("confirm: " + text); return false; },
  confirmCheck(title, text) { record("confirm: " + text); return false; },
  confirmEx(title, text) { record("confirm: " + text); return 1; },
  select(title, text) { record("select: " + text); return false; },
};
const factory = {
  QueryInterface: ChromeUtils.generateQI(["nsIFactory", "nsIPromptFactory"]),
  createInstance(iid) { return this.QueryInterface(iid); },
  getPrompt(win, iid) { return prompter.QueryInterface(iid); },
};
Components.manager.QueryInterface(Ci.nsIComponentRegistrar).registerFactory(
  Components.ID("{3f0c9e64-5d1a-4c8e-b7a2-91d7e0c4a8f3}"), "jpki test PIN prompter",
  "@mozilla.org/prompter;1", factory);
return true;
`

// firefoxRun is what one headless Firefox visit of a URL gave.
type firefoxRun struct {
	Page    string   // the page source after navigation ("" when it failed)
	NavErr  error    // the navigation error (an NSS error page, a timeout, ...)
	Prompts []string // the dialogs Firefox raised, in order
}

// visitWithFirefox starts Firefox ESR headless with a fresh profile that loads the
// module and trusts caPEM, answers every PIN prompt with pin, opens url and
// returns what happened. env is the environment of Firefox (the private pcscd,
// the module's debug log). The profile selects the client certificate by itself.
func visitWithFirefox(t *testing.T, env []string, module, caPEM, url, pin string) firefoxRun {
	t.Helper()
	return visitAllWithFirefox(t, env, module, caPEM, pin, url)[0]
}

// visitAllWithFirefox is visitWithFirefox for several URLs in one Firefox start:
// between two visits Firefox logs out of every token and forgets its TLS sessions
// (nsISecretDecoderRing.logoutAndTeardown), so each visit starts from no login and
// no session to resume, and each run's Prompts are those of its own visit.
func visitAllWithFirefox(t *testing.T, env []string, module, caPEM, pin string, urls ...string) []firefoxRun {
	t.Helper()
	bin, err := exec.LookPath("firefox-esr")
	if err != nil {
		t.Fatal("firefox-esr is not installed (make deps, or apt-get install firefox-esr)")
	}
	dir := t.TempDir()
	prof, home := filepath.Join(dir, "profile"), filepath.Join(dir, "home")
	for _, d := range []string{prof, home} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	db := "sql:" + prof
	clienttest.MustRun(t, nil, "certutil", "-N", "-d", db, "--empty-password")
	clienttest.MustRun(t, nil, "modutil", "-dbdir", db, "-add", "JPKI", "-libfile", module, "-force")
	clienttest.MustRun(t, nil, "certutil", "-A", "-d", db, "-n", "test server CA", "-t", "CT,C,C", "-i", caPEM)
	port := clienttest.FreePort(t)
	clienttest.WriteFirefoxPrefs(t, prof, port)

	ctx, cancel := context.WithCancel(context.Background())
	cmd := clienttest.Cmd(ctx, append(env, "HOME="+home, "MOZ_HEADLESS=1"), bin, "--headless", "--marionette",
		"--remote-allow-system-access", "--no-remote", "-profile", prof, "about:blank")
	logf, err := os.Create(filepath.Join(dir, "firefox.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start firefox: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		stop := time.Now()
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			t.Logf("firefox: still running 10 s after SIGTERM: killed")
			cancel()
			<-exited
		}
		t.Logf("firefox: stopped in %v", time.Since(stop).Round(time.Millisecond))
		cancel()
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("firefox log (tail):\n%s", tailLines(string(b), 20))
		}
	})

	start := time.Now()
	m, err := clienttest.DialMarionette(port, 90*time.Second, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("firefox: marionette up after %v", time.Since(start).Round(time.Millisecond))
	defer m.Close()
	if _, err := m.Call("WebDriver:NewSession", map[string]any{"capabilities": map[string]any{
		"alwaysMatch": map[string]any{"acceptInsecureCerts": false}}}, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Call("Marionette:SetContext", map[string]any{"value": "chrome"}, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Call("WebDriver:ExecuteScript", map[string]any{"script": pinPrompter, "args": []any{pin}}, 30*time.Second); err != nil {
		t.Fatalf("install the PIN prompter: %v", err)
	}
	if _, err := m.Call("Marionette:SetContext", map[string]any{"value": "content"}, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	var runs []firefoxRun
	for i, url := range urls {
		runs = append(runs, visit(t, m, url, i < len(urls)-1))
	}
	_, _ = m.Call("Marionette:Quit", map[string]any{"flags": []string{"eForceQuit"}}, 10*time.Second)
	return runs
}

// visit opens url in the content context and returns what happened, then, in
// the chrome context, reads and clears the prompts recorded and, when logout is
// set, logs Firefox out of every token and tears its TLS sessions down; it
// leaves Marionette in the content context.
func visit(t *testing.T, m *clienttest.Marionette, url string, logout bool) firefoxRun {
	t.Helper()
	var run firefoxRun
	navStart := time.Now()
	_, run.NavErr = m.Call("WebDriver:Navigate", map[string]any{"url": url}, 180*time.Second)
	t.Logf("firefox: navigation took %v", time.Since(navStart).Round(time.Millisecond))
	if run.NavErr == nil {
		src, err := m.Call("WebDriver:GetPageSource", map[string]any{}, 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(src, &run.Page); err != nil {
			t.Fatalf("page source: %v", err)
		}
	}
	if _, err := m.Call("Marionette:SetContext", map[string]any{"value": "chrome"}, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	seen, err := m.Call("WebDriver:ExecuteScript", map[string]any{
		"script": `const s = Services.prefs.getStringPref("jpki.test.prompts", "[]");
Services.prefs.setStringPref("jpki.test.prompts", "[]");
if (arguments[0]) {
  Cc["@mozilla.org/security/sdr;1"].getService(Ci.nsISecretDecoderRing).logoutAndTeardown();
}
return s;`, "args": []any{logout}}, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var s string
	if err := json.Unmarshal(seen, &s); err != nil || json.Unmarshal([]byte(s), &run.Prompts) != nil {
		t.Fatalf("prompts: %s", seen)
	}
	if _, err := m.Call("Marionette:SetContext", map[string]any{"value": "content"}, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	return run
}

// tailLines is the last n lines of s.
func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
