package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"log"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jpki-pkcs11/jpki-pkcs11/vcard"
)

// syncBuffer is a log sink safe for the server goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// fakeVPCD plays vpcd's side of the protocol over one accepted connection.
type fakeVPCD struct {
	t *testing.T
	c net.Conn
}

func (f fakeVPCD) send(msg []byte) {
	f.t.Helper()
	frame := binary.BigEndian.AppendUint16(nil, uint16(len(msg)))
	if _, err := f.c.Write(append(frame, msg...)); err != nil {
		f.t.Fatal(err)
	}
}

func (f fakeVPCD) recv() []byte {
	f.t.Helper()
	_ = f.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var head [2]byte
	if _, err := io.ReadFull(f.c, head[:]); err != nil {
		f.t.Fatal(err)
	}
	b := make([]byte, binary.BigEndian.Uint16(head[:]))
	if _, err := io.ReadFull(f.c, b); err != nil {
		f.t.Fatal(err)
	}
	return b
}

func accept(t *testing.T, l net.Listener) fakeVPCD {
	t.Helper()
	ch := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			ch <- c
		}
	}()
	select {
	case c := <-ch:
		t.Cleanup(func() { c.Close() })
		return fakeVPCD{t, c}
	case <-time.After(5 * time.Second):
		t.Fatal("the card did not connect")
	}
	return fakeVPCD{}
}

// cardAndListener is a new default virtual card and a loopback listener standing
// in for vpcd (closed with the test).
func cardAndListener(t *testing.T) (*vcard.Card, net.Listener) {
	t.Helper()
	dir := t.TempDir()
	if err := vcard.Create(dir, vcard.Options{}); err != nil {
		t.Fatal(err)
	}
	c, err := vcard.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return c, l
}

func TestServeProtocol(t *testing.T) {
	c, l := cardAndListener(t)
	var logs syncBuffer
	lg := log.New(&logs, "", 0)
	c.SetAPDULog(func(cmd, resp []byte) { lg.Printf("%s -> %s", formatCommand(cmd), formatResponse(resp)) })
	s := &server{c: c, addr: l.Addr().String(), log: lg, inserted: true}
	s.cond = sync.NewCond(&s.mu)
	done := make(chan struct{})
	go func() { s.loop(); close(done) }()

	v := accept(t, l)
	v.send([]byte{ctlATR})
	if got := v.recv(); !bytes.Equal(got, vcard.ATRMyNumber) {
		t.Fatalf("ATR % X", got)
	}
	v.send([]byte{ctlPowerOn})
	v.send([]byte{0x00, 0xA4, 0x04, 0x0C, 0x0A, 0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01})
	if got := v.recv(); !bytes.Equal(got, []byte{0x90, 0x00}) {
		t.Fatalf("select: % X", got)
	}
	v.send([]byte{0x00, 0x20, 0x00, 0x98, 0x04, '1', '2', '3', '4'})
	if got := v.recv(); !bytes.Equal(got, []byte{0x90, 0x00}) {
		t.Fatalf("verify: % X", got)
	}
	// Power cycle: the PIN is no longer verified.
	v.send([]byte{ctlReset})
	v.send([]byte{0x00, 0xA4, 0x04, 0x0C, 0x0A, 0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01})
	v.recv()
	v.send([]byte{0x80, 0x2A, 0x00, 0x97, 0x01, 0x01, 0x00})
	if got := v.recv(); !bytes.Equal(got, []byte{0x69, 0x82}) {
		t.Fatalf("sign after reset: % X", got)
	}
	if out := logs.String(); strings.Contains(out, "31 32 33 34") || !strings.Contains(out, "00 20 00 98 04 ** -> 90 00") {
		t.Fatalf("log:\n%s", out)
	}

	// vpcd goes away: the card reconnects.
	v.c.Close()
	v = accept(t, l)
	v.send([]byte{ctlATR})
	v.recv()

	// Pulled out: the connection closes and no new one comes until inserted.
	s.setInserted(false)
	_ = v.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := v.c.Read(make([]byte, 1)); err == nil {
		t.Fatal("connection still open after the card was pulled out")
	}
	s.setInserted(true)
	v = accept(t, l)
	v.send([]byte{ctlATR})
	v.recv()
	s.stop()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("server did not stop")
	}
}

func TestRunUsage(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run([]string{"--help"}, &out, &errOut); err != nil || !strings.Contains(out.String(), "SIGUSR1") {
		t.Fatalf("help: %v %q", err, out.String())
	}
	if err := run([]string{"new"}, &out, &errOut); err == nil {
		t.Fatal("new without DIR accepted")
	}
	dir := t.TempDir() + "/c"
	if err := run([]string{"new", dir, "--auth-pin", "12a4"}, &out, &errOut); err == nil {
		t.Fatal("bad PIN accepted")
	}
	if err := run([]string{"new", dir, "--under15", "--birth", "2015-05-05"}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := run([]string{"info", dir}, &out, &errOut); err != nil || !strings.Contains(out.String(), "under 15") {
		t.Fatalf("info: %v\n%s", err, out.String())
	}
}

// TestServeHangAfter: with --hang-after 2 the card answers two APDUs (control
// messages do not count), then takes the third and answers nothing more, not
// even a control message, with the connection kept open; stop still ends it.
func TestServeHangAfter(t *testing.T) {
	c, l := cardAndListener(t)
	var logs syncBuffer
	s := &server{c: c, addr: l.Addr().String(), log: log.New(&logs, "", 0), inserted: true, hangs: true, hangAfter: 2}
	s.cond = sync.NewCond(&s.mu)
	done := make(chan struct{})
	go func() { s.loop(); close(done) }()

	v := accept(t, l)
	v.send([]byte{ctlATR})
	v.recv()
	v.send([]byte{ctlPowerOn})
	getChallenge := []byte{0x00, 0x84, 0x00, 0x00, 0x08}
	for i := 0; i < 2; i++ {
		v.send(getChallenge)
		if got := v.recv(); len(got) != 10 || got[8] != 0x90 {
			t.Fatalf("APDU %d: % X", i+1, got)
		}
	}
	v.send(getChallenge)
	v.send([]byte{ctlATR})
	_ = v.c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	n, err := v.c.Read(make([]byte, 16))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("after the hang: read %d bytes, %v (want nothing, connection open)", n, err)
	}
	if !strings.Contains(logs.String(), "APDU 3 not answered") {
		t.Fatalf("log:\n%s", logs.String())
	}
	s.stop()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("server did not stop while hung")
	}
}
