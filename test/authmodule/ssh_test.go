package authmodule

import (
	"path/filepath"
	"testing"

	"github.com/jpki-pkcs11/jpki-pkcs11/test/clients/clienttest"
)

// TestSSHAgent: the README's ssh-agent recipe: `ssh-add -s jpki-pkcs11-auth.so`
// (the PIN from SSH_ASKPASS, no JPKI_PKCS11_TOKENS) gives the card to ssh-agent,
// and ssh logs in to a private sshd through the agent twice without asking again.
func TestSSHAgent(t *testing.T) {
	c, _ := authSlot(t)
	mod := authModule(t)
	port, dir, srv := clienttest.SSHD(t, c)
	e := clienttest.WithAskpass(t, dir, env(t))
	// ssh-agent loads providers only from its allowed paths (-P): the module's folder.
	sock := clienttest.StartSSHAgent(t, e, dir, filepath.Dir(mod)+"/*")
	e = append(e, "SSH_AUTH_SOCK="+sock)
	if out, err := clienttest.RunIn(t, "", []byte{}, e, "ssh-add", "-s", mod); err != nil {
		t.Fatalf("ssh-add -s %s: %v\n%s", mod, err, out)
	}
	clienttest.Contains(t, "ssh-add -L", clienttest.MustRun(t, e, "ssh-add", "-L"), clienttest.SSHKey(t, c, "auth.der"))
	for i := 0; i < 2; i++ {
		out, err := clienttest.RunIn(t, "", []byte{}, e, "ssh", clienttest.SSHArgs(dir, port, "-o", "IdentityAgent="+sock)...)
		if err != nil {
			t.Fatalf("ssh through the agent (login %d): %v\n%s", i+1, err, out)
		}
		clienttest.Contains(t, "ssh", out, "logged-in-as-root")
	}
	srv.WaitOutput(t, "sshd log", "Accepted publickey for root from 127.0.0.1")
}
