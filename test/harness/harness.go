// Package harness runs a private pcscd with vpcd readers and virtual My Number
// Cards (build/jpki-vcard) for integration tests (shared/CLIENTS.md). It never
// touches the system pcscd: the private one runs in its own mount namespace with a
// tmpfs on /run/pcscd, and clients reach it through PCSCLITE_CSOCK_NAME.
//
// The PC/SC client library reads PCSCLITE_CSOCK_NAME once per process, so one test
// process uses one private pcscd: start it in TestMain (Start sets the variable in
// the process environment) and stop it there. Packages running in parallel each
// get their own pcscd on free random ports.
package harness

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jpki-pkcs11/jpki-pkcs11/card"
	"github.com/jpki-pkcs11/jpki-pkcs11/card/pcsc"
)

// VPCDDriver is Debian's vpcd reader driver.
const VPCDDriver = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so"

// PCSC is a private pcscd with one vpcd device: two readers, "Virtual PCD 00 00"
// on Port and "Virtual PCD 00 01" on Port+1.
type PCSC struct {
	Dir     string // private temporary directory (config, logs, card dirs)
	Port    int    // vpcd base port
	Socket  string // value for PCSCLITE_CSOCK_NAME
	LogPath string // pcscd's --debug --apdu log

	cmd     *exec.Cmd
	exited  chan struct{} // closed when pcscd has been reaped
	logFile *os.File
	mu      sync.Mutex
	cards   []*Card
	sys     *pcsc.System
}

// Readers is how many readers one vpcd device gives.
const Readers = 2

// ReaderName is the PC/SC name of reader i (0 or 1).
func ReaderName(i int) string { return fmt.Sprintf("Virtual PCD 00 %02d", i) }

// Start starts a private pcscd on free ports and sets PCSCLITE_CSOCK_NAME in this
// process's environment. Call Stop when done (also on failure paths).
func Start() (*PCSC, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("harness: a private pcscd needs root (unshare -m, mount)")
	}
	for _, p := range []string{"pcscd", "unshare"} {
		if _, err := exec.LookPath(p); err != nil {
			return nil, fmt.Errorf("harness: %s not installed (make deps): %w", p, err)
		}
	}
	if _, err := os.Stat(VPCDDriver); err != nil {
		return nil, fmt.Errorf("harness: vpcd driver missing (make deps): %w", err)
	}
	dir, err := os.MkdirTemp("", "jpki-harness-")
	if err != nil {
		return nil, err
	}
	p := &PCSC{Dir: dir}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		if lastErr = p.start(0); lastErr == nil {
			os.Setenv("PCSCLITE_CSOCK_NAME", p.Socket)
			return p, nil
		}
		p.stopPCSCD()
	}
	os.RemoveAll(dir)
	return nil, lastErr
}

// freePorts picks a random even base port with base and base+1 free.
// Restart stops pcscd and starts it again on the same ports and socket path (a
// PC/SC service that goes away and comes back). Served cards reconnect by themselves.
func (p *PCSC) Restart() error {
	p.stopPCSCD()
	var err error
	for i := 0; i < 50; i++ {
		if err = p.start(p.Port); err == nil {
			return nil
		}
		p.stopPCSCD()
		time.Sleep(100 * time.Millisecond)
	}
	return err
}

func freePorts() (int, error) {
	for i := 0; i < 200; i++ {
		base := 20000 + 2*rand.IntN(20000)
		if portFree(base) && portFree(base+1) {
			return base, nil
		}
	}
	return 0, errors.New("harness: no free port pair found")
}

func portFree(port int) bool {
	l, err := net.Listen("tcp", fmt.Sprintf(":%d", port))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// start starts pcscd with vpcd on port (a free random port when 0).
func (p *PCSC) start(port int) error {
	var err error
	if port == 0 {
		if port, err = freePorts(); err != nil {
			return err
		}
	}
	p.Port = port
	conf := filepath.Join(p.Dir, "reader.conf.d")
	if err := os.MkdirAll(conf, 0o755); err != nil {
		return err
	}
	rc := fmt.Sprintf("FRIENDLYNAME \"Virtual PCD\"\nDEVICENAME /dev/null:0x%X\nLIBPATH %s\nCHANNELID 0x%X\n",
		port, VPCDDriver, port)
	if err := os.WriteFile(filepath.Join(conf, "vpcd"), []byte(rc), 0o644); err != nil {
		return err
	}
	p.LogPath = filepath.Join(p.Dir, fmt.Sprintf("pcscd-%d.log", port))
	p.logFile, err = os.OpenFile(p.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	script := "mount -t tmpfs none /run/pcscd && exec pcscd --foreground --apdu --debug --config " + conf
	if err := os.MkdirAll("/run/pcscd", 0o755); err != nil {
		return err
	}
	p.cmd = exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c", script)
	p.cmd.Stdout, p.cmd.Stderr = p.logFile, p.logFile
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := p.cmd.Start(); err != nil {
		return fmt.Errorf("harness: start pcscd: %w", err)
	}
	cmd, exited := p.cmd, make(chan struct{})
	p.exited = exited
	go func() { _ = cmd.Wait(); close(exited) }()
	// Clients use a symlink that stays put when pcscd restarts (the client library
	// reads PCSCLITE_CSOCK_NAME once per process).
	real := fmt.Sprintf("/proc/%d/root/run/pcscd/pcscd.comm", p.cmd.Process.Pid)
	p.Socket = filepath.Join(p.Dir, "pcscd.comm")
	_ = os.Remove(p.Socket + ".new")
	if err := os.Symlink(real, p.Socket+".new"); err != nil {
		return err
	}
	if err := os.Rename(p.Socket+".new", p.Socket); err != nil {
		return err
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-exited:
			return fmt.Errorf("harness: pcscd exited at start: %s", p.tail(5))
		default:
		}
		// Ready when the socket exists and vpcd listens on both ports.
		if _, err := os.Stat(real); err == nil && listening(port) && listening(port+1) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("harness: pcscd not ready after 10 s: %s", p.tail(5))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// listening tells whether some process listens on TCP port (from /proc/net/tcp*),
// without connecting: vpcd would take a probe connection for a card.
func listening(port int) bool {
	want := fmt.Sprintf(":%04X ", port)
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			fields := strings.Fields(line)
			if len(fields) > 3 && strings.HasSuffix(fields[1]+" ", want) && fields[3] == "0A" {
				return true
			}
		}
	}
	return false
}

// tail returns the last n lines of the pcscd log.
func (p *PCSC) tail(n int) string {
	b, _ := os.ReadFile(p.LogPath)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// Env returns os.Environ() with PCSCLITE_CSOCK_NAME for child processes.
func (p *PCSC) Env() []string {
	return append(os.Environ(), "PCSCLITE_CSOCK_NAME="+p.Socket)
}

// Addr is the vpcd address a card in reader i connects to.
func (p *PCSC) Addr(i int) string { return fmt.Sprintf("127.0.0.1:%d", p.Port+i) }

func (p *PCSC) stopPCSCD() {
	if p.cmd != nil && p.cmd.Process != nil {
		killGroup(p.cmd, p.exited)
	}
	if p.logFile != nil {
		p.logFile.Close()
	}
	p.cmd, p.logFile = nil, nil
}

// killGroup ends a process group started with Setpgid: SIGTERM, then SIGKILL.
// exited is closed once the process has been reaped.
func killGroup(cmd *exec.Cmd, exited <-chan struct{}) {
	pgid := cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-exited:
		return
	case <-time.After(3 * time.Second):
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	select {
	case <-exited:
	case <-time.After(3 * time.Second):
	}
}

// Stop stops the cards and pcscd (its tmpfs goes with its mount namespace) and
// removes the temporary directory unless keep is set (for post-mortems).
func (p *PCSC) Stop(keep bool) {
	p.mu.Lock()
	cards := p.cards
	p.cards = nil
	sys := p.sys
	p.sys = nil
	p.mu.Unlock()
	if sys != nil {
		_ = sys.Close()
	}
	for _, c := range cards {
		c.Stop()
	}
	p.stopPCSCD()
	if !keep {
		os.RemoveAll(p.Dir)
	}
}

// System returns a card/pcsc System on this pcscd (shared, closed by Stop).
func (p *PCSC) System() (*pcsc.System, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.sys == nil {
		s, err := pcsc.New()
		if err != nil {
			return nil, err
		}
		p.sys = s
	}
	return p.sys, nil
}

// WaitCard waits until reader i reports a card (present) or no card, up to timeout.
func (p *PCSC) WaitCard(i int, present bool, timeout time.Duration) error {
	sys, err := p.System()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	name := ReaderName(i)
	for {
		st, err := sys.Status([]string{name})
		if err == nil && len(st) == 1 && st[0].Present == present {
			return nil
		}
		var known []card.ReaderStatus
		if err == nil {
			known = st
		}
		wctx, wcancel := context.WithTimeout(ctx, 500*time.Millisecond)
		werr := sys.Wait(wctx, known)
		wcancel()
		if ctx.Err() != nil {
			return fmt.Errorf("harness: reader %q: card present=%v not reached in %v (last: %v %v)", name, present, timeout, st, err)
		}
		if werr != nil && !errors.Is(werr, context.DeadlineExceeded) {
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// Mark returns the current end of the pcscd log, for CountAPDUs.
func (p *PCSC) Mark() int64 {
	fi, err := os.Stat(p.LogPath)
	if err != nil {
		return 0
	}
	return fi.Size()
}

var apduLine = regexp.MustCompile(`APDU: ([0-9A-F ]+)`)

// APDUs returns the command APDUs pcscd logged since mark, as "00 A4 04 0C ..." strings.
func (p *PCSC) APDUs(mark int64) ([]string, error) {
	f, err := os.Open(p.LogPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := f.Seek(mark, io.SeekStart); err != nil {
		return nil, err
	}
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		if m := apduLine.FindStringSubmatch(sc.Text()); m != nil {
			out = append(out, strings.TrimSpace(m[1]))
		}
	}
	return out, sc.Err()
}

// CountAPDUs counts the command APDUs logged since mark whose hex ("00 A4 04 0C ...")
// matches the regular expression pattern ("" counts all).
func (p *PCSC) CountAPDUs(mark int64, pattern string) (int, error) {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return 0, err
	}
	apdus, err := p.APDUs(mark)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, a := range apdus {
		if re.MatchString(a) {
			n++
		}
	}
	return n, nil
}
