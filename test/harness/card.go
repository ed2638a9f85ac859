package harness

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// Card is one `jpki-vcard serve` process feeding a reader of the private pcscd.
type Card struct {
	Dir     string // the card directory (keys, certificates, state.json)
	Reader  int    // reader index (0 or 1)
	LogPath string // the card's APDU log (PINs masked)

	cmd    *exec.Cmd
	exited chan struct{}
}

// NewCardDir makes a card with `jpki-vcard new` in a fresh directory under the
// harness directory; args are extra flags (e.g. "--under15").
func (p *PCSC) NewCardDir(name string, args ...string) (string, error) {
	bin, err := VcardBinary()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(p.Dir, name)
	out, err := exec.Command(bin, append([]string{"new", dir}, args...)...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("harness: jpki-vcard new: %w: %s", err, bytes.TrimSpace(out))
	}
	return dir, nil
}

// StartCard serves the card in dir into reader i (`jpki-vcard serve`); extra args
// go to serve (e.g. "--latency", "20ms"). It waits until the reader shows the card.
func (p *PCSC) StartCard(dir string, i int, args ...string) (*Card, error) {
	bin, err := VcardBinary()
	if err != nil {
		return nil, err
	}
	c := &Card{Dir: dir, Reader: i, LogPath: filepath.Join(p.Dir, fmt.Sprintf("vcard-%d-%d.log", i, time.Now().UnixNano())),
		exited: make(chan struct{})}
	cmd := exec.Command(bin, append([]string{"serve", dir, "--vpcd", p.Addr(i), "--log", c.LogPath}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("harness: start jpki-vcard: %w", err)
	}
	c.cmd = cmd
	go func() { _ = cmd.Wait(); close(c.exited) }()
	p.mu.Lock()
	p.cards = append(p.cards, c)
	p.mu.Unlock()
	if err := p.WaitCard(i, true, 10*time.Second); err != nil {
		return c, err
	}
	return c, nil
}

// Pull takes the card out (SIGUSR1: the card closes its vpcd connection).
func (c *Card) Pull() error { return c.signal(syscall.SIGUSR1) }

// Insert puts the card back (SIGUSR2: it reconnects to vpcd).
func (c *Card) Insert() error { return c.signal(syscall.SIGUSR2) }

func (c *Card) signal(s syscall.Signal) error {
	select {
	case <-c.exited:
		return errors.New("harness: jpki-vcard is not running")
	default:
	}
	return c.cmd.Process.Signal(s)
}

// Stop ends the card process (SIGTERM, then SIGKILL).
func (c *Card) Stop() {
	select {
	case <-c.exited:
		return
	default:
	}
	killGroup(c.cmd, c.exited)
}

// Log returns the card's APDU log so far.
func (c *Card) Log() string {
	b, _ := os.ReadFile(c.LogPath)
	return string(b)
}
