package clienttest

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// Buffer collects a process's output for concurrent writers and readers, and
// lets a reader wait for what it expects (WaitFor).
type Buffer struct {
	mu      sync.Mutex
	b       strings.Builder
	changed chan struct{} // closed by the next Write; nil while nobody waits
}

// Write appends p.
func (w *Buffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.changed != nil {
		close(w.changed)
		w.changed = nil
	}
	return w.b.Write(p)
}

// String returns what was written so far.
func (w *Buffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// WaitFor waits until the buffer contains s and reports whether it does: it gives
// up when done is closed (the writer has finished: what is there is all there will
// be) or ctx ends. A process's output reaches the buffer on the process's own
// schedule and through a goroutine that copies a pipe, so a line the process
// writes before something else the test sees may still be on its way.
func (w *Buffer) WaitFor(ctx context.Context, done <-chan struct{}, s string) bool {
	for {
		w.mu.Lock()
		if strings.Contains(w.b.String(), s) {
			w.mu.Unlock()
			return true
		}
		if w.changed == nil {
			w.changed = make(chan struct{})
		}
		changed := w.changed
		w.mu.Unlock()
		select {
		case <-changed:
		case <-done:
			return strings.Contains(w.String(), s)
		case <-ctx.Done():
			return false
		}
	}
}

// FreePort returns a currently free TCP port on 127.0.0.1.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// URIEscape percent-encodes a PKCS#11 URI path attribute value (RFC 7512):
// everything but unreserved characters is percent-encoded.
func URIEscape(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// Server is a background server process (openssl s_server, gnutls-serv, sshd)
// stopped when the test ends.
type Server struct {
	w    *Buffer
	done chan struct{}
}

// StartServer starts name args (environment env, as for Cmd) meant to listen on
// 127.0.0.1:port and waits up to 15 s until the port accepts connections; the
// test's cleanup kills it (with its process group) and logs its output when the
// test failed.
func StartServer(t testing.TB, port int, env []string, name string, args ...string) *Server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := Cmd(ctx, env, name, args...)
	w := &Buffer{}
	s := &Server{w: w, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { _ = cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		cancel()
		<-s.done
		if t.Failed() {
			t.Logf("%s output:\n%s", name, w.String())
		}
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case <-s.done:
			t.Fatalf("%s exited at start:\n%s", name, w.String())
		default:
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not listen on %s: %v\n%s", name, addr, err, w.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Output is what the server printed so far.
func (s *Server) Output() string { return s.w.String() }

// WaitOutput waits until the server's output contains every string of want (a
// server writes its log on its own schedule: the line about a client can come
// after the client saw the answer) and fails the test, showing the output, if the
// server exits or DefaultTimeout passes first. what names the output.
func (s *Server) WaitOutput(t testing.TB, what string, want ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), DefaultTimeout)
	defer cancel()
	for _, w := range want {
		if !s.w.WaitFor(ctx, s.done, w) {
			break
		}
	}
	Contains(t, what, s.w.String(), want...)
}
