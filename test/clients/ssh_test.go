package clients

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/jpki-pkcs11/jpki-pkcs11/test/clients/clienttest"
)

// OpenSSH loads the module with ssh-keygen -D and ssh -I. ssh asks the PIN on the
// terminal; without one, SSH_ASKPASS with SSH_ASKPASS_REQUIRE=force.

// TestSSHKeygenD: `ssh-keygen -D module` prints the authentication public key
// first (and never the signature key, which is private before login).
func TestSSHKeygenD(t *testing.T) {
	tk := sharedTokens(t)
	out := clienttest.MustRun(t, clienttest.Env(t), "ssh-keygen", "-D", fx.Module)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	want := clienttest.SSHKey(t, tk.card, "auth.der")
	if !strings.HasPrefix(lines[0], want+" ") {
		t.Fatalf("ssh-keygen -D: first key is not the authentication key %q:\n%s", want, out)
	}
	clienttest.Contains(t, "ssh-keygen -D", lines[0], "User Authentication Public Key")
	if strings.Contains(out, clienttest.SSHKey(t, tk.card, "sign.der")) {
		t.Fatalf("ssh-keygen -D shows the signature key without login:\n%s", out)
	}
}

// TestSSHLogin: `ssh -I module` logs in to a private sshd on a loopback high port
// whose authorized_keys holds the card's authentication key; the PIN comes from an
// SSH_ASKPASS script.
func TestSSHLogin(t *testing.T) {
	tk := sharedTokens(t)
	port, dir, srv := clienttest.SSHD(t, tk.card)
	env := clienttest.WithAskpass(t, dir, clienttest.Env(t))
	out, err := clienttest.RunIn(t, "", []byte{}, env, "ssh", clienttest.SSHArgs(dir, port, "-I", fx.Module)...)
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
	port, dir, srv := clienttest.SSHD(t, tk.card)
	env := clienttest.WithAskpass(t, dir, clienttest.Env(t))
	// ssh-agent loads PKCS#11 modules only from the allowed paths (-P). Its helper
	// logs in only to login-required tokens and cannot ask a PIN per signature:
	// it gets the authentication token alone, which then requires a login
	// (docs/ONE-PIN.md).
	sock := clienttest.StartSSHAgent(t, append(env, "JPKI_PKCS11_TOKENS=auth"), dir, fx.Module)
	env = append(env, "SSH_AUTH_SOCK="+sock)
	out, err := clienttest.RunIn(t, "", []byte{}, env, "ssh-add", "-s", fx.Module)
	if err != nil {
		t.Fatalf("ssh-add -s: %v\n%s", err, out)
	}
	list := clienttest.MustRun(t, env, "ssh-add", "-L")
	clienttest.Contains(t, "ssh-add -L", list, clienttest.SSHKey(t, tk.card, "auth.der"))
	for i := 0; i < 2; i++ {
		out, err := clienttest.RunIn(t, "", []byte{}, env, "ssh", clienttest.SSHArgs(dir, port, "-o", "IdentityAgent="+sock)...)
		if err != nil {
			t.Fatalf("ssh through the agent (login %d): %v\n%s", i+1, err, out)
		}
		clienttest.Contains(t, "ssh", out, "logged-in-as-root")
	}
	srv.WaitOutput(t, "sshd log", "Accepted publickey for root from 127.0.0.1")
}
