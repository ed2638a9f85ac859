package authmodule

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

// TestSSHAgent: the README's ssh-agent recipe: `ssh-add -s jpki-pkcs11-auth.so`
// (the PIN from SSH_ASKPASS, no JPKI_PKCS11_TOKENS) gives the card to ssh-agent,
// and ssh logs in to a private sshd through the agent twice without asking again.
func TestSSHAgent(t *testing.T) {
	c, _ := authSlot(t)
	mod := authModule(t)
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	out := clienttest.MustRun(t, nil, "ssh-keygen", "-i", "-m", "PKCS8", "-f", c.PubKey(t, "auth.der"))
	f := strings.Fields(out)
	if len(f) < 2 {
		t.Fatalf("ssh-keygen -i: %q", out)
	}
	pub := f[0] + " " + f[1]
	authKeys := clienttest.WriteFile(t, dir, "authorized_keys", []byte(pub+" jpki-card\n"), 0o600)
	hostKey := filepath.Join(dir, "host_ed25519")
	clienttest.MustRun(t, nil, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hostKey)
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatal(err)
	}
	port := clienttest.FreePort(t)
	conf := clienttest.WriteFile(t, dir, "sshd_config", []byte(fmt.Sprintf(
		"ListenAddress 127.0.0.1\nPort %d\nHostKey %s\nPidFile %s/sshd.pid\nAuthorizedKeysFile %s\nPermitRootLogin prohibit-password\n"+
			"PubkeyAuthentication yes\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n",
		port, hostKey, dir, authKeys)), 0o600)
	srv := clienttest.StartServer(t, port, nil, "/usr/sbin/sshd", "-D", "-e", "-f", conf)

	askpass := clienttest.WriteFile(t, dir, "askpass", []byte("#!/bin/sh\necho "+clienttest.AuthPIN+"\n"), 0o700)
	e := env(t, "SSH_ASKPASS="+askpass, "SSH_ASKPASS_REQUIRE=force", "DISPLAY=:0")
	sock := filepath.Join(dir, "agent.sock")
	// ssh-agent loads providers only from its allowed paths (-P): the module's folder.
	agentCtx, stopAgent := context.WithCancel(context.Background())
	agent := clienttest.Cmd(agentCtx, e, "ssh-agent", "-D", "-a", sock, "-P", filepath.Dir(mod)+"/*")
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
	e = append(e, "SSH_AUTH_SOCK="+sock)
	if out, err := clienttest.RunIn(t, "", []byte{}, e, "ssh-add", "-s", mod); err != nil {
		t.Fatalf("ssh-add -s %s: %v\n%s", mod, err, out)
	}
	clienttest.Contains(t, "ssh-add -L", clienttest.MustRun(t, e, "ssh-add", "-L"), pub)
	for i := 0; i < 2; i++ {
		out, err := clienttest.RunIn(t, "", []byte{}, e, "ssh", "-F", "none", "-p", fmt.Sprint(port),
			"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile="+filepath.Join(dir, "known_hosts"),
			"-o", "PasswordAuthentication=no", "-o", "KbdInteractiveAuthentication=no", "-o", "IdentityAgent="+sock,
			"root@127.0.0.1", "echo logged-in-as-$(id -un)")
		if err != nil {
			t.Fatalf("ssh through the agent (login %d): %v\n%s", i+1, err, out)
		}
		clienttest.Contains(t, "ssh", out, "logged-in-as-root")
	}
	clienttest.Contains(t, "sshd log", srv.Output(), "Accepted publickey for root from 127.0.0.1")
}
