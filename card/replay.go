package card

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
)

// Replay is a Transport that answers from a transcript (ParseTranscript): each
// command must be the next one recorded (its removed bytes excepted) and gets the
// recorded answer, removed bytes as zeros. A command that differs, or one past the
// end of the transcript, fails with ErrTranscript and so does every command after
// it: a replay never answers anything it did not record.
type Replay struct {
	mu     sync.Mutex
	ex     []Exchange
	next   int
	failed error
}

// NewReplay replays the exchanges ex.
func NewReplay(ex []Exchange) *Replay { return &Replay{ex: ex} }

// Used is the number of exchanges replayed so far.
func (r *Replay) Used() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.next
}

// Err is the first failure of the replay (nil while every command matched).
func (r *Replay) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}

// Transmit answers cmd from the transcript.
func (r *Replay) Transmit(cmd []byte) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failed != nil {
		return nil, r.failed
	}
	if r.next >= len(r.ex) {
		r.failed = fmt.Errorf("%w: the card layer sent % X after the %d exchanges the transcript holds (missing or truncated transcript?)",
			ErrTranscript, cmd, len(r.ex))
		return nil, r.failed
	}
	e := r.ex[r.next]
	if !e.Command.matches(cmd) {
		r.failed = fmt.Errorf("%w: exchange %d: the card layer sent % X, the transcript has %s",
			ErrTranscript, r.next+1, cmd, formatBytes(e.Command))
		return nil, r.failed
	}
	r.next++
	if e.Err != "" {
		return nil, transportError(e.Err)
	}
	return append([]byte(nil), e.Response.B...), nil
}

// matches reports whether cmd is b, removed bytes excepted.
func (b Bytes) matches(cmd []byte) bool {
	if len(cmd) != len(b.B) {
		return false
	}
	for i := range cmd {
		if !b.Removed[i] && cmd[i] != b.B[i] {
			return false
		}
	}
	return true
}

// transportError gives back the error a transcript recorded as text: the
// transport errors of this package keep their identity.
func transportError(msg string) error {
	for _, e := range []error{ErrRemoved, ErrReset, ErrNoCard, ErrServiceGone, ErrTimeout, ErrNoReader} {
		if strings.Contains(msg, e.Error()) {
			return fmt.Errorf("replayed: %s: %w", msg, e)
		}
	}
	return fmt.Errorf("replayed transport error: %s", msg)
}

// Begin, End and Close do nothing: a transcript records commands only.
func (r *Replay) Begin() error { return r.Err() }

// End ends nothing.
func (r *Replay) End() error { return nil }

// Close closes nothing.
func (r *Replay) Close() error { return nil }

// ReplaySystem is a System with one reader holding the card a transcript
// recorded: Connect hands out one Replay of it (a second Connect continues the
// same transcript).
type ReplaySystem struct {
	Reader string
	ATR    []byte
	R      *Replay
}

// Readers lists the one reader.
func (s *ReplaySystem) Readers() ([]string, error) { return []string{s.Reader}, nil }

// Status says the card is present.
func (s *ReplaySystem) Status(readers []string) ([]ReaderStatus, error) {
	out := make([]ReaderStatus, len(readers))
	for i, n := range readers {
		out[i] = ReaderStatus{Name: n, Present: n == s.Reader, Events: 1, ATR: s.ATR}
	}
	return out, nil
}

// Wait waits for ctx: nothing ever changes.
func (s *ReplaySystem) Wait(ctx context.Context, _ []ReaderStatus) error {
	<-ctx.Done()
	return ctx.Err()
}

// Connect connects to the replayed card.
func (s *ReplaySystem) Connect(reader string) (Transport, error) {
	if reader != s.Reader {
		return nil, ErrNoCard
	}
	return s.R, nil
}

// Close closes nothing.
func (s *ReplaySystem) Close() error { return nil }

// IsTranscriptError reports whether err is a replay's failure.
func IsTranscriptError(err error) bool { return errors.Is(err, ErrTranscript) }
