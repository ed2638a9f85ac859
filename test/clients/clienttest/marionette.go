package clienttest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// Marionette is a minimal client of Firefox's Marionette protocol (the remote
// protocol geckodriver speaks): length-prefixed JSON packets "<len>:<json>" over
// TCP; a command is [0, id, name, params], its answer [1, id, error, result].
type Marionette struct {
	conn net.Conn
	r    *bufio.Reader
	id   int
}

// DialMarionette connects to a Firefox started with --marionette on port,
// retrying for up to wait while Firefox starts, and reads the server's greeting
// (within greeting).
func DialMarionette(port int, wait, greeting time.Duration) (*Marionette, error) {
	deadline := time.Now().Add(wait)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			m := &Marionette{conn: c, r: bufio.NewReader(c)}
			var hello map[string]any
			if err := m.read(&hello, greeting); err != nil {
				c.Close()
				return nil, fmt.Errorf("marionette greeting: %w", err)
			}
			return m, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("marionette on port %d: %w", port, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// read reads one packet into v.
func (m *Marionette) read(v any, timeout time.Duration) error {
	_ = m.conn.SetReadDeadline(time.Now().Add(timeout))
	head, err := m.r.ReadString(':')
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(strings.TrimSuffix(head, ":"))
	if err != nil || n < 0 || n > 64<<20 {
		return fmt.Errorf("marionette: bad packet length %q", head)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(m.r, buf); err != nil {
		return err
	}
	return json.Unmarshal(buf, v)
}

// Call sends command name with params and waits up to timeout for its result
// (the "value" member when there is one), or the error Firefox answered.
func (m *Marionette) Call(name string, params any, timeout time.Duration) (json.RawMessage, error) {
	m.id++
	b, err := json.Marshal([]any{0, m.id, name, params})
	if err != nil {
		return nil, err
	}
	_ = m.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(m.conn, "%d:%s", len(b), b); err != nil {
		return nil, err
	}
	for {
		var resp []json.RawMessage
		if err := m.read(&resp, timeout); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		var typ, id int
		if len(resp) != 4 || json.Unmarshal(resp[0], &typ) != nil || json.Unmarshal(resp[1], &id) != nil {
			return nil, fmt.Errorf("%s: malformed answer", name)
		}
		if typ != 1 || id != m.id {
			continue // an event or a late answer
		}
		if string(resp[2]) != "null" {
			return nil, fmt.Errorf("%s: %s", name, resp[2])
		}
		var wrapped struct {
			Value json.RawMessage `json:"value"`
		}
		if json.Unmarshal(resp[3], &wrapped) == nil && wrapped.Value != nil {
			return wrapped.Value, nil
		}
		return resp[3], nil
	}
}

// Script runs JavaScript with args in the current context and decodes its value
// into out (when not nil).
func (m *Marionette) Script(js string, args []any, out any, timeout time.Duration) error {
	if args == nil {
		args = []any{}
	}
	raw, err := m.Call("WebDriver:ExecuteScript", map[string]any{"script": js, "args": args}, timeout)
	if err != nil || out == nil {
		return err
	}
	return json.Unmarshal(raw, out)
}

// SetContext switches to the "chrome" or the "content" context.
func (m *Marionette) SetContext(c string, timeout time.Duration) error {
	_, err := m.Call("Marionette:SetContext", map[string]any{"value": c}, timeout)
	return err
}

// Close closes the connection.
func (m *Marionette) Close() { m.conn.Close() }

// PromptAnswerer replaces Firefox's prompt service (chrome context) by one that answers
// every password prompt with arguments[0] and records each prompt's text in the
// preference jpki.test.prompts (a JSON list), so the test can count them. Run it with Marionette.Script in the chrome
// context, the PIN as its one argument.
const PromptAnswerer = `
const pin = arguments[0];
const record = (what) => {
  const list = JSON.parse(Services.prefs.getStringPref("jpki.test.prompts", "[]"));
  list.push(what);
  Services.prefs.setStringPref("jpki.test.prompts", JSON.stringify(list));
};
const prompter = {
  QueryInterface: ChromeUtils.generateQI(["nsIPrompt"]),
  promptPassword(title, text, password) { record("password: " + text); password.value = pin; return true; },
  alert(title, text) { record("alert: " + text); },
  confirm(title, text) { record("confirm: " + text); return true; },
  confirmCheck() { return true; },
  confirmEx() { record("confirmEx"); return 0; },
  alertCheck() {},
  prompt(title, text) { record("prompt: " + text); return false; },
  promptUsernameAndPassword() { record("usernameAndPassword"); return false; },
  select() { record("select"); return false; },
};
const factory = {
  QueryInterface: ChromeUtils.generateQI(["nsIFactory", "nsIPromptFactory"]),
  createInstance(iid) { return this.QueryInterface(iid); },
  getPrompt(win, iid) { return prompter.QueryInterface(iid); },
};
Components.manager.QueryInterface(Ci.nsIComponentRegistrar).registerFactory(
  Components.ID("{3f0d6c2e-58a1-4c77-9d0e-2b7a51c4e9a8}"), "jpki test prompter", "@mozilla.org/prompter;1", factory);
return true;`
