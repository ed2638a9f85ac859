package cardtest

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jpki-pkcs11/jpki-pkcs11/card"
	"github.com/jpki-pkcs11/jpki-pkcs11/card/pcsc"
	"github.com/jpki-pkcs11/jpki-pkcs11/test/harness"
)

// bound is how long these tests wait for something that must happen (a hang check).
const bound = 20 * time.Second

// newSystem is a card/pcsc System of the test's own (not the harness's shared
// one), closed when the test ends.
func newSystem(t *testing.T) *pcsc.System {
	t.Helper()
	sys, err := pcsc.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sys.Close() })
	return sys
}

// pcscdLines returns the lines pcscd logged since mark.
func pcscdLines(t *testing.T, mark int64) []string {
	t.Helper()
	f, err := os.Open(pc.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Seek(mark, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

// requests returns the requests pcscd received since mark (one "Received
// command" line each).
func requests(t *testing.T, mark int64) []string {
	t.Helper()
	var out []string
	for _, l := range pcscdLines(t, mark) {
		if _, cmd, ok := strings.Cut(l, "Received command: "); ok {
			out = append(out, cmd)
		}
	}
	return out
}

// waitRequest waits until pcscd received a request starting with cmd since mark.
func waitRequest(t *testing.T, mark int64, cmd string) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for time.Now().Before(deadline) {
		for _, r := range requests(t, mark) {
			if strings.HasPrefix(r, cmd) {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("pcscd got no %s request within %v: %q", cmd, bound, requests(t, mark))
}

// result waits for a Wait's result.
func result(t *testing.T, what string, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(bound):
		t.Fatalf("%s: Wait did not return within %v", what, bound)
		return nil
	}
}

// TestWaitBlocksInPCSC: Wait makes one blocking request to pcscd, then none at
// all while nothing changes (it used to ask five times a second); the card
// leaving wakes it, and the reader then shows no card.
func TestWaitBlocksInPCSC(t *testing.T) {
	vc, _ := pc.NewCard(t, 0, nil)
	sys := newSystem(t)
	names, err := sys.Readers()
	if err != nil {
		t.Fatal(err)
	}
	known, err := sys.Status(names)
	if err != nil {
		t.Fatal(err)
	}
	mark := pc.Mark()
	done := make(chan error, 1)
	go func() { done <- sys.Wait(context.Background(), known) }()
	waitRequest(t, mark, "CMD_WAIT_READER_STATE_CHANGE") // the blocking request is in pcscd
	quiet := pc.Mark()
	time.Sleep(time.Second)
	if r := requests(t, quiet); len(r) != 0 {
		t.Fatalf("a blocked Wait made %d PC/SC requests in 1 s: %q", len(r), r)
	}
	select {
	case err := <-done:
		t.Fatalf("Wait returned with no change: %v", err)
	default:
	}
	if err := vc.Pull(); err != nil {
		t.Fatal(err)
	}
	if err := result(t, "card pulled", done); err != nil {
		t.Fatalf("Wait after the card left: %v", err)
	}
	st, err := sys.Status(names[:1])
	if err != nil || len(st) != 1 || st[0].Present {
		t.Fatalf("status after the wake: %+v %v", st, err)
	}
	t.Logf("requests while blocked: %q", requests(t, mark))
}

// TestWaitWokenByCancelAndClose: a cancelled context wakes a blocked Wait
// (SCardCancel on its own context), the next Wait blocks again, and Close wakes
// every Wait in progress.
func TestWaitWokenByCancelAndClose(t *testing.T) {
	pc.NewCard(t, 0, nil)
	sys := newSystem(t)
	names, _ := sys.Readers()
	known, err := sys.Status(names)
	if err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 3; round++ {
		ctx, cancel := context.WithCancel(context.Background())
		mark := pc.Mark()
		done := make(chan error, 1)
		go func() { done <- sys.Wait(ctx, known) }()
		waitRequest(t, mark, "CMD_WAIT_READER_STATE_CHANGE")
		cancel()
		if err := result(t, "cancelled", done); !errors.Is(err, context.Canceled) {
			t.Fatalf("round %d: Wait after cancel: %v, want context.Canceled", round, err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	mark := pc.Mark()
	for range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); errs <- sys.Wait(context.Background(), known) }()
	}
	deadline := time.Now().Add(bound)
	for n := 0; n < 2 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		n = 0
		for _, r := range requests(t, mark) {
			if strings.HasPrefix(r, "CMD_WAIT_READER_STATE_CHANGE") {
				n++
			}
		}
	}
	if err := sys.Close(); err != nil {
		t.Fatal(err)
	}
	stopped := make(chan struct{})
	go func() { wg.Wait(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(bound):
		t.Fatal("Close did not wake the Waits")
	}
	close(errs)
	for err := range errs {
		if !errors.Is(err, card.ErrServiceGone) {
			t.Fatalf("Wait woken by Close: %v, want ErrServiceGone", err)
		}
	}
	if err := sys.Wait(context.Background(), known); !errors.Is(err, card.ErrServiceGone) {
		t.Fatalf("Wait after Close: %v", err)
	}
}

// TestWaitBesideStatus: Waits blocked in PC/SC beside Status calls on other
// goroutines (the host crashed when both went through ebfe/scard's
// GetStatusChange: run with -race too); an insertion wakes every Wait.
func TestWaitBesideStatus(t *testing.T) {
	dir, err := pc.NewCardDir("beside")
	if err != nil {
		t.Fatal(err)
	}
	sys := newSystem(t)
	names, _ := sys.Readers()
	known, err := sys.Status(names)
	if err != nil {
		t.Fatal(err)
	}
	if known[1].Present {
		t.Fatal("reader 1 has a card already")
	}
	const waiters = 3
	mark := pc.Mark()
	done := make(chan error, waiters)
	for range waiters {
		go func() { done <- sys.Wait(context.Background(), known) }()
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := sys.Status(names); err != nil {
					t.Error(err)
					return
				}
				_, _ = sys.Readers()
			}
		}()
	}
	waitRequest(t, mark, "CMD_WAIT_READER_STATE_CHANGE")
	pc.ServeCard(t, dir, 1)
	for i := range waiters {
		if err := result(t, "card inserted", done); err != nil {
			t.Fatalf("waiter %d: %v", i, err)
		}
	}
	close(stop)
	wg.Wait()
	st, err := sys.Status(names)
	if err != nil || !st[1].Present {
		t.Fatalf("status after the insertion: %+v %v", st, err)
	}
}

// getChallenge asks the card for 8 random bytes (any card answers it).
var getChallenge = []byte{0x00, 0x84, 0x00, 0x00, 0x08}

// TestCardStopsAnswering: a card that takes a command and never answers
// (`jpki-vcard serve --hang-after 3`). The command gives card.ErrNoAnswer after
// the System's bound, a Wait in progress returns, the connection is given up
// (its calls answer card.ErrRemoved at once, Close does not wait), the reader
// shows no card and refuses connections until the card is taken out; a
// connection another System makes meanwhile is bounded too (pcscd itself waits
// for the reader); the card put back works.
func TestCardStopsAnswering(t *testing.T) {
	dir, err := pc.NewCardDir("hang")
	if err != nil {
		t.Fatal(err)
	}
	vc := pc.ServeCard(t, dir, 1, "--hang-after", "3")
	sys := newSystem(t)
	const answer = 2 * time.Second
	sys.AnswerWait = answer
	reader := harness.ReaderName(1)
	tr, err := sys.Connect(reader)
	if err != nil {
		t.Fatal(err)
	}
	known, err := sys.Status([]string{reader})
	if err != nil || !known[0].Present {
		t.Fatalf("status: %+v %v", known, err)
	}
	waiting := make(chan error, 1)
	mark := pc.Mark()
	go func() { waiting <- sys.Wait(context.Background(), known) }()
	waitRequest(t, mark, "CMD_WAIT_READER_STATE_CHANGE")

	if err := tr.Begin(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := tr.Transmit(getChallenge); err != nil {
			t.Fatalf("APDU %d: %v", i+1, err)
		}
	}
	t0 := time.Now()
	_, err = tr.Transmit(getChallenge)
	took := time.Since(t0)
	if !errors.Is(err, card.ErrNoAnswer) {
		t.Fatalf("unanswered command: %v, want ErrNoAnswer", err)
	}
	if took < answer || took > answer+5*time.Second {
		t.Fatalf("unanswered command gave up after %v (bound %v)", took, answer)
	}
	t.Logf("unanswered command: %v after %v", err, took.Round(time.Millisecond))
	if err := result(t, "card stopped answering", waiting); err != nil {
		t.Fatalf("Wait when the card stopped answering: %v", err)
	}
	st, err := sys.Status([]string{reader})
	if err != nil || st[0].Present {
		t.Fatalf("status of the stuck card: %+v %v (want no card)", st, err)
	}
	// from that view nothing changes: a Wait blocks (it does not spin on the
	// card PC/SC still shows) until its context ends
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	err = sys.Wait(ctx, st)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait from the stuck card's view: %v, want it to block until its context ends", err)
	}
	quick := func(what string, f func() error, want error) {
		t.Helper()
		t0 := time.Now()
		err := f()
		if want != nil && !errors.Is(err, want) || want == nil && err != nil {
			t.Fatalf("%s: %v, want %v", what, err, want)
		}
		if d := time.Since(t0); d > time.Second {
			t.Fatalf("%s took %v on a connection given up", what, d)
		}
	}
	quick("Transmit", func() error { _, err := tr.Transmit(getChallenge); return err }, card.ErrRemoved)
	quick("Begin", tr.Begin, card.ErrRemoved)
	quick("End", tr.End, nil)
	quick("Close", tr.Close, nil)
	quick("Connect", func() error { _, err := sys.Connect(reader); return err }, card.ErrNoCard)

	// another System does not know the card is stuck: pcscd makes its connection
	// wait for the reader, and the bound gives up on it
	other := newSystem(t)
	other.AnswerWait = answer
	t0 = time.Now()
	_, err = other.Connect(reader)
	if !errors.Is(err, card.ErrNoAnswer) || time.Since(t0) > answer+5*time.Second {
		t.Fatalf("connect to the stuck reader: %v after %v, want ErrNoAnswer after %v", err, time.Since(t0), answer)
	}

	// taken out (the card process ends: pcscd's call returns) and put back
	vc.Stop()
	if err := pc.WaitCard(1, false, bound); err != nil {
		t.Fatal(err)
	}
	pc.ServeCard(t, dir, 1)
	st, err = sys.Status([]string{reader})
	if err != nil || !st[0].Present {
		t.Fatalf("status after the card was put back: %+v %v", st, err)
	}
	tr, err = sys.Connect(reader)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	info, err := card.New(tr).Identify()
	if err != nil || info.Kind != card.KindMyNumber {
		t.Fatalf("identify after the card was put back: %+v %v", info, err)
	}
}
