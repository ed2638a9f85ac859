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

// Buffer collects a process's output for concurrent writers and readers.
type Buffer struct {
	mu sync.Mutex
	b  strings.Builder
}

// Write appends p.
func (w *Buffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// String returns what was written so far.
func (w *Buffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
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
