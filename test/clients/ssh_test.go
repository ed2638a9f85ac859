package clients

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jpki-pkcs11/jpki-pkcs11/test/clients/clienttest"
)

// OpenSSH loads the module with ssh-keygen -D and ssh -I. ssh asks the PIN on the
// terminal; without one, SSH_ASKPASS with SSH_ASKPASS_REQUIRE=force.

// sshKey is the "ssh-rsa AAAA..." form (type and blob) of the card certificate's key.
func sshKey(t *testing.T, c *clienttest.Card, der string) string {
	t.Helper()
	out := clienttest.MustRun(t, nil, "ssh-keygen", "-i", "-m", "PKCS8", "-f", c.PubKey(t, der))
	f := strings.Fields(out)
	if len(f) < 2 {
		t.Fatalf("ssh-keygen -i: %q", out)
	}
	return f[0] + " " + f[1]
}

// TestSSHKeygenD: `ssh-keygen -D module` prints the authentication public key
// first (and never the signature key, which is private before login).
func TestSSHKeygenD(t *testing.T) {
	tk := sharedTokens(t)
	out := clienttest.MustRun(t, clienttest.Env(t), "ssh-keygen", "-D", fx.Module)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	want := sshKey(t, tk.card, "auth.der")
	if !strings.HasPrefix(lines[0], want+" ") {
		t.Fatalf("ssh-keygen -D: first key is not the authentication key %q:\n%s", want, out)
	}
	clienttest.Contains(t, "ssh-keygen -D", lines[0], "User Authentication Public Key")
	if strings.Contains(out, sshKey(t, tk.card, "sign.der")) {
		t.Fatalf("ssh-keygen -D shows the signature key without login:\n%s", out)
	}
}

// sshd runs a private sshd on a loopback high port whose authorized_keys holds the
// card's authentication key; it returns the port, a working directory and the
// server (its log shows the accepted key).
func sshd(t *testing.T, c *clienttest.Card) (int, string, *clienttest.Server) {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	key := sshKey(t, c, "auth.der")
	authKeys := clienttest.WriteFile(t, dir, "authorized_keys", []byte(key+" jpki-card\n"), 0o600)
	hostKey := filepath.Join(dir, "host_ed25519")
	clienttest.MustRun(t, nil, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hostKey)
	// sshd's privilege separation directory (Debian's openssh-server creates it at boot).
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatal(err)
	}
	port := clienttest.FreePort(t)
	conf := clienttest.WriteFile(t, dir, "sshd_config", []byte(fmt.Sprintf(`ListenAddress 127.0.0.1
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
	srv := clienttest.StartServer(t, port, nil, "/usr/sbin/sshd", "-D", "-e", "-f", conf)
	return port, dir, srv
}

// sshArgs are the ssh options for the private sshd, then extra, then the command.
func sshArgs(dir string, port int, extra ...string) []string {
	args := []string{"-F", "none", "-p", fmt.Sprint(port), "-o", "StrictHostKeyChecking=no",
		"-o", "UserKnownHostsFile=" + filepath.Join(dir, "known_hosts"),
		"-o", "PasswordAuthentication=no", "-o", "KbdInteractiveAuthentication=no"}
	return append(append(args, extra...), "root@127.0.0.1", "echo logged-in-as-$(id -un)")
}

// askpassEnv is an environment whose SSH_ASKPASS script answers the PIN.
func askpassEnv(t *testing.T, dir string) []string {
	askpass := clienttest.WriteFile(t, dir, "askpass", []byte("#!/bin/sh\necho "+clienttest.AuthPIN+"\n"), 0o700)
	return clienttest.Env(t, "SSH_ASKPASS="+askpass, "SSH_ASKPASS_REQUIRE=force", "DISPLAY=:0")
}

// TestSSHLogin: `ssh -I module` logs in to a private sshd on a loopback high port
// whose authorized_keys holds the card's authentication key; the PIN comes from an
// SSH_ASKPASS script.
func TestSSHLogin(t *testing.T) {
	tk := sharedTokens(t)
	port, dir, srv := sshd(t, tk.card)
	env := askpassEnv(t, dir)
	out, err := clienttest.RunIn(t, "", []byte{}, env, "ssh", sshArgs(dir, port, "-I", fx.Module)...)
	if err != nil {
		t.Fatalf("ssh: %v\n%s", err, out)
	}
	clienttest.Contains(t, "ssh", out, "logged-in-as-root")
	fp := strings.Fields(clienttest.MustRun(t, nil, "ssh-keygen", "-l", "-f", filepath.Join(dir, "authorized_keys")))[1]
	srv.WaitOutput(t, "sshd log", "Accepted publickey for root from 127.0.0.1", "RSA "+fp)
}

// TestSSHAgent: `ssh-add -s module` gives the card to ssh-agent (the PIN from
// SSH_ASKPASS), and ssh logs in with the key through the agent, twice.
func TestSSHAgent(t *testing.T) {
	tk := sharedTokens(t)
	port, dir, srv := sshd(t, tk.card)
	env := askpassEnv(t, dir)
	sock := filepath.Join(dir, "agent.sock")
	// ssh-agent loads PKCS#11 modules only from the allowed paths (-P). Its helper
	// logs in only to login-required tokens and cannot ask a PIN per signature:
	// it gets the authentication token alone, which then requires a login
	// (docs/ONE-PIN.md).
	agentCtx, stopAgent := context.WithCancel(context.Background())
	agent := clienttest.Cmd(agentCtx, append(env, "JPKI_PKCS11_TOKENS=auth"), "ssh-agent", "-D", "-a", sock, "-P", fx.Module)
	var agentOut clienttest.Buffer
	agent.Stdout, agent.Stderr = &agentOut, &agentOut
	if err := agent.Start(); err != nil {
		stopAgent()
		t.Fatal(err)
	}
	agentDone := make(chan struct{})
	go func() { _ = agent.Wait(); close(agentDone) }()
	t.Cleanup(func() {
		stopAgent()
		<-agentDone
		if t.Failed() {
			t.Logf("ssh-agent output:\n%s", agentOut.String())
		}
	})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ssh-agent: no socket:\n%s", agentOut.String())
		}
	}
	env = append(env, "SSH_AUTH_SOCK="+sock)
	out, err := clienttest.RunIn(t, "", []byte{}, env, "ssh-add", "-s", fx.Module)
	if err != nil {
		t.Fatalf("ssh-add -s: %v\n%s", err, out)
	}
	list := clienttest.MustRun(t, env, "ssh-add", "-L")
	clienttest.Contains(t, "ssh-add -L", list, sshKey(t, tk.card, "auth.der"))
	for i := 0; i < 2; i++ {
		out, err := clienttest.RunIn(t, "", []byte{}, env, "ssh", sshArgs(dir, port, "-o", "IdentityAgent="+sock)...)
		if err != nil {
			t.Fatalf("ssh through the agent (login %d): %v\n%s", i+1, err, out)
		}
		clienttest.Contains(t, "ssh", out, "logged-in-as-root")
	}
	srv.WaitOutput(t, "sshd log", "Accepted publickey for root from 127.0.0.1")
}
