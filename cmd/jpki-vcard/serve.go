package main

import (
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jpki-pkcs11/jpki-pkcs11/vcard"
)

// vpcd control messages (one byte).
const (
	ctlPowerOff = 0x00
	ctlPowerOn  = 0x01
	ctlReset    = 0x02
	ctlATR      = 0x04
)

const retryEvery = 200 * time.Millisecond

func cmdServe(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	addr := fs.String("vpcd", "127.0.0.1:35963", "vpcd address HOST:PORT")
	logFile := fs.String("log", "", "log file (default stderr)")
	latency := fs.Duration("latency", -1, "delay added to every APDU (default: the card's own)")
	hangAfter := fs.Int("hang-after", -1, "answer the first N APDUs, then never answer one again (a card that stops answering)")
	dir, err := parseWithDir(fs, args)
	if err != nil {
		return err
	}
	out := stderr
	if *logFile != "" {
		f, err := os.OpenFile(*logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return err
		}
		defer f.Close()
		out = f
	}
	c, err := vcard.Open(dir)
	if err != nil {
		return err
	}
	if *latency >= 0 {
		c.SetLatency(*latency)
	}
	lg := log.New(out, "", log.LstdFlags|log.Lmicroseconds)
	c.SetAPDULog(func(cmd, resp []byte) { lg.Printf("%s -> %s", formatCommand(cmd), formatResponse(resp)) })
	s := &server{c: c, addr: *addr, log: lg, inserted: true, hangs: *hangAfter >= 0, hangAfter: *hangAfter}
	s.cond = sync.NewCond(&s.mu)

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGTERM, syscall.SIGINT)
	done := make(chan struct{})
	go func() { s.loop(); close(done) }()
	lg.Printf("serving %s to vpcd at %s (pid %d)", dir, *addr, os.Getpid())
	for {
		select {
		case sig := <-sigs:
			switch sig {
			case syscall.SIGUSR1:
				lg.Printf("card pulled out (SIGUSR1)")
				s.setInserted(false)
			case syscall.SIGUSR2:
				lg.Printf("card inserted (SIGUSR2)")
				s.setInserted(true)
			default:
				lg.Printf("stopping (%v)", sig)
				s.stop()
				<-done
				return nil
			}
		case <-done:
			return nil
		}
	}
}

// server keeps one card connected to vpcd while it is "inserted".
type server struct {
	c    *vcard.Card
	addr string
	log  *log.Logger

	mu       sync.Mutex
	cond     *sync.Cond
	inserted bool
	stopping bool
	conn     net.Conn

	// With hangs, the card answers hangAfter APDUs, counted from the start of
	// serve (apdus counts those received). From the next one on, it takes every
	// message and answers none: the connection to vpcd stays open, so the card
	// stays "inserted" and the reader waits for ever.
	hangs     bool
	hangAfter int
	apdus     int
}

// silent counts a message received and reports whether the card has stopped
// answering (the message is then dropped, not processed: an unanswered VERIFY
// costs no try).
func (s *server) silent(apdu bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.hangs {
		return false
	}
	if s.apdus > s.hangAfter {
		return true
	}
	if apdu {
		s.apdus++
		if s.apdus > s.hangAfter {
			s.log.Printf("APDU %d not answered (--hang-after %d): the card answers nothing from now on", s.apdus, s.hangAfter)
			return true
		}
	}
	return false
}

func (s *server) setInserted(in bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inserted = in
	if !in && s.conn != nil {
		_ = s.conn.Close()
	}
	s.cond.Broadcast()
}

func (s *server) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopping = true
	if s.conn != nil {
		_ = s.conn.Close()
	}
	s.cond.Broadcast()
}

// loop connects to vpcd whenever the card is inserted, until stop.
func (s *server) loop() {
	announced := false
	for {
		s.mu.Lock()
		for !s.inserted && !s.stopping {
			s.cond.Wait()
		}
		if s.stopping {
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()

		conn, err := net.DialTimeout("tcp", s.addr, 2*time.Second)
		if err != nil {
			if !announced {
				s.log.Printf("vpcd at %s not reachable (%v); retrying every %v", s.addr, err, retryEvery)
				announced = true
			}
			time.Sleep(retryEvery)
			continue
		}
		announced = false
		s.mu.Lock()
		if !s.inserted || s.stopping {
			s.mu.Unlock()
			_ = conn.Close()
			continue
		}
		s.conn = conn
		s.mu.Unlock()

		s.log.Printf("connected to vpcd at %s", s.addr)
		err = s.serve(conn.(*net.TCPConn))
		_ = conn.Close()
		s.c.Reset() // out of the reader: the card loses power
		s.mu.Lock()
		s.conn = nil
		pulled := !s.inserted || s.stopping
		s.mu.Unlock()
		if !pulled {
			s.log.Printf("vpcd connection lost (%v); reconnecting", err)
			time.Sleep(retryEvery)
		}
	}
}

// serve answers vpcd's messages on conn until it fails or is closed.
func (s *server) serve(conn *net.TCPConn) error {
	_ = conn.SetNoDelay(true)
	raw, err := conn.SyscallConn()
	if err != nil {
		return err
	}
	quickAck := func() {
		_ = raw.Control(func(fd uintptr) {
			_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
		})
	}
	var head [2]byte
	for {
		quickAck()
		if _, err := io.ReadFull(conn, head[:]); err != nil {
			return err
		}
		quickAck() // Linux clears QUICKACK: set it again after every read
		n := binary.BigEndian.Uint16(head[:])
		msg := make([]byte, n)
		if _, err := io.ReadFull(conn, msg); err != nil {
			return err
		}
		quickAck()
		if s.silent(n > 1) {
			continue
		}
		var reply []byte
		switch {
		case n == 1 && msg[0] == ctlATR:
			reply = s.c.ATR()
		case n == 1 && msg[0] == ctlPowerOff:
			s.log.Printf("power off")
			s.c.Reset()
			continue
		case n == 1 && msg[0] == ctlPowerOn:
			s.log.Printf("power on")
			s.c.Reset()
			continue
		case n == 1 && msg[0] == ctlReset:
			s.log.Printf("reset")
			s.c.Reset()
			continue
		case n == 1:
			s.log.Printf("unknown vpcd control message %02X", msg[0])
			continue
		default:
			reply = s.c.Process(msg)
		}
		frame := make([]byte, 2+len(reply))
		binary.BigEndian.PutUint16(frame, uint16(len(reply)))
		copy(frame[2:], reply)
		if _, err := conn.Write(frame); err != nil {
			return err
		}
	}
}

// formatCommand prints a command APDU in hex; the data of VERIFY and CHANGE
// REFERENCE DATA (already masked by the card) is shown as **.
func formatCommand(cmd []byte) string {
	if len(cmd) > 5 && (cmd[1] == 0x20 || cmd[1] == 0x24) {
		return fmt.Sprintf("% X **", cmd[:5])
	}
	if len(cmd) > 40 {
		return fmt.Sprintf("% X ... (%d bytes)", cmd[:40], len(cmd))
	}
	return fmt.Sprintf("% X", cmd)
}

func formatResponse(resp []byte) string {
	if len(resp) < 2 {
		return fmt.Sprintf("% X", resp)
	}
	n := len(resp) - 2
	var b strings.Builder
	fmt.Fprintf(&b, "%02X %02X", resp[n], resp[n+1])
	if n > 0 {
		fmt.Fprintf(&b, " (%d bytes)", n)
	}
	return b.String()
}
