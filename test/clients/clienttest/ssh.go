package clienttest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// OpenSSH against the card: a private sshd on a loopback high port whose
// authorized_keys holds the card's authentication key, ssh options for it, an
// SSH_ASKPASS that answers the PIN, and an ssh-agent of the test's own.

// SSHKey is the "ssh-rsa AAAA..." form (type and blob) of the key of the card's
// certificate der (auth.der, sign.der).
func SSHKey(t testing.TB, c *Card, der string) string {
	t.Helper()
	out := MustRun(t, nil, "ssh-keygen", "-i", "-m", "PKCS8", "-f", c.PubKey(t, der))
	f := strings.Fields(out)
	if len(f) < 2 {
		t.Fatalf("ssh-keygen -i: %q", out)
	}
	return f[0] + " " + f[1]
}

// SSHD runs a private sshd on a loopback high port whose authorized_keys holds the
// card's authentication key; it returns the port, a working directory (sshd's files,
// authorized_keys among them) and the server (its log shows the accepted key).
func SSHD(t testing.TB, c *Card) (int, string, *Server) {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	authKeys := WriteFile(t, dir, "authorized_keys", []byte(SSHKey(t, c, "auth.der")+" jpki-card\n"), 0o600)
	hostKey := filepath.Join(dir, "host_ed25519")
	MustRun(t, nil, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hostKey)
	// sshd's privilege separation directory (Debian's openssh-server creates it at boot).
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatal(err)
	}
	port := FreePort(t)
	conf := WriteFile(t, dir, "sshd_config", []byte(fmt.Sprintf(`ListenAddress 127.0.0.1
Port %d
HostKey %s
PidFile %s/sshd.pid
AuthorizedKeysFile %s
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
`, port, hostKey, dir, authKeys)), 0o600)
	srv := StartServer(t, port, nil, "/usr/sbin/sshd", "-D", "-e", "-f", conf)
	return port, dir, srv
}

// SSHArgs are the ssh options for the private sshd of SSHD (dir, port), then extra,
// then the login and a command that prints "logged-in-as-USER".
func SSHArgs(dir string, port int, extra ...string) []string {
	args := []string{"-F", "none", "-p", fmt.Sprint(port), "-o", "StrictHostKeyChecking=no",
		"-o", "UserKnownHostsFile=" + filepath.Join(dir, "known_hosts"),
		"-o", "PasswordAuthentication=no", "-o", "KbdInteractiveAuthentication=no"}
	return append(append(args, extra...), "root@127.0.0.1", "echo logged-in-as-$(id -un)")
}

// WithAskpass is env with an SSH_ASKPASS script (written into dir) that answers the
// authentication PIN, forced even with a terminal.
func WithAskpass(t testing.TB, dir string, env []string) []string {
	t.Helper()
	askpass := WriteFile(t, dir, "askpass", []byte("#!/bin/sh\necho "+AuthPIN+"\n"), 0o700)
	return append(env, "SSH_ASKPASS="+askpass, "SSH_ASKPASS_REQUIRE=force", "DISPLAY=:0")
}

// StartSSHAgent runs an ssh-agent of the test's own (stopped at cleanup, its output
// logged if the test failed) that loads PKCS#11 providers only from allowed (its -P
// pattern); it returns the path of the agent's socket in dir (for SSH_AUTH_SOCK)
// once it exists.
func StartSSHAgent(t testing.TB, env []string, dir, allowed string) string {
	t.Helper()
	sock := filepath.Join(dir, "agent.sock")
	ctx, stop := context.WithCancel(context.Background())
	agent := Cmd(ctx, env, "ssh-agent", "-D", "-a", sock, "-P", allowed)
	var out Buffer
	agent.Stdout, agent.Stderr = &out, &out
	if err := agent.Start(); err != nil {
		stop()
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = agent.Wait(); close(done) }()
	t.Cleanup(func() {
		stop()
		<-done
		if t.Failed() {
			t.Logf("ssh-agent output:\n%s", out.String())
		}
	})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		select {
		case <-done:
			t.Fatalf("ssh-agent ended before making its socket:\n%s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("ssh-agent: no socket after 10 s:\n%s", out.String())
		}
	}
	return sock
}
