package nss

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// marionette is a minimal client of Firefox's Marionette protocol: messages are
// "<length>:<json>"; a command is [0, id, name, params], its answer
// [1, id, error, result].
type marionette struct {
	conn net.Conn
	r    *bufio.Reader
	id   int
}

// dialMarionette connects to Firefox's Marionette port (retrying while Firefox
// starts) and reads its greeting.
func dialMarionette(port int, wait time.Duration) (*marionette, error) {
	deadline := time.Now().Add(wait)
	var conn net.Conn
	var err error
	for {
		conn, err = net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("marionette on port %d: %w", port, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	m := &marionette{conn: conn, r: bufio.NewReader(conn)}
	if _, err := m.read(); err != nil {
		conn.Close()
		return nil, fmt.Errorf("marionette greeting: %w", err)
	}
	return m, nil
}

func (m *marionette) read() (json.RawMessage, error) {
	m.conn.SetReadDeadline(time.Now().Add(3 * time.Minute))
	head, err := m.r.ReadString(':')
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(head[:len(head)-1])
	if err != nil || n < 0 || n > 64<<20 {
		return nil, fmt.Errorf("marionette: bad length %q", head)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(m.r, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

// call sends command name with params and returns its result; a Marionette error
// is returned as an error.
func (m *marionette) call(name string, params any) (json.RawMessage, error) {
	m.id++
	msg, err := json.Marshal([]any{0, m.id, name, params})
	if err != nil {
		return nil, err
	}
	if _, err := fmt.Fprintf(m.conn, "%d:%s", len(msg), msg); err != nil {
		return nil, err
	}
	for {
		raw, err := m.read()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		var resp []json.RawMessage
		if err := json.Unmarshal(raw, &resp); err != nil || len(resp) != 4 {
			return nil, fmt.Errorf("%s: bad answer %.200s", name, raw)
		}
		var kind, id int
		json.Unmarshal(resp[0], &kind)
		json.Unmarshal(resp[1], &id)
		if kind != 1 || id != m.id {
			continue // an event or a late answer
		}
		if string(resp[2]) != "null" {
			return nil, fmt.Errorf("%s: %s", name, resp[2])
		}
		return resp[3], nil
	}
}

// script runs JavaScript in the current context and decodes its value into out.
func (m *marionette) script(js string, args []any, out any) error {
	if args == nil {
		args = []any{}
	}
	raw, err := m.call("WebDriver:ExecuteScript", map[string]any{"script": js, "args": args})
	if err != nil {
		return err
	}
	var v struct{ Value json.RawMessage }
	if err := json.Unmarshal(raw, &v); err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(v.Value, out)
}

func (m *marionette) context(c string) error {
	_, err := m.call("Marionette:SetContext", map[string]any{"value": c})
	return err
}

func (m *marionette) close() { m.conn.Close() }
