package clienttest

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// P11KitClient is p11-kit's remoting client module (Debian p11-kit-modules).
const P11KitClient = "/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so"

// P11KitProxy is p11-kit's proxy module: every module p11-kit's configuration
// names, behind one (Debian p11-kit-modules).
const P11KitProxy = "/usr/lib/x86_64-linux-gnu/p11-kit-proxy.so"

// P11KitServer starts `p11-kit server --foreground` with the fixture's module,
// exporting the tokens (pkcs11: URIs) on a socket in a private XDG_RUNTIME_DIR,
// and returns the P11_KIT_SERVER_ADDRESS for clients. env is the server's
// environment (Env(t): the module's debug log). The test's cleanup stops it.
func (f *Fixture) P11KitServer(t testing.TB, env []string, tokens ...string) string {
	t.Helper()
	if _, err := os.Stat(P11KitClient); err != nil {
		t.Fatalf("p11-kit client module: %v", err)
	}
	rt := t.TempDir()
	sock := filepath.Join(rt, "p11-kit.sock")
	ctx, cancel := context.WithCancel(context.Background())
	args := append([]string{"server", "--foreground", "--name", sock, "--provider", f.Module}, tokens...)
	cmd := Cmd(ctx, append(env, "XDG_RUNTIME_DIR="+rt), "p11-kit", args...)
	out := &Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
		if t.Failed() {
			t.Logf("p11-kit server output:\n%s", out.String())
		}
	})
	for deadline := time.Now().Add(10 * time.Second); ; {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		select {
		case <-done:
			t.Fatalf("p11-kit server exited:\n%s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("p11-kit server: no socket %s:\n%s", sock, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return "unix:path=" + sock
}
