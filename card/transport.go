package card

import (
	"context"
	"errors"
)

// Transport carries APDUs to one card in one reader. Implementations: card/pcsc
// (real PC/SC) and vcard (the emulation, in-process).
//
// Begin starts an exclusive PC/SC transaction (shared mode otherwise). It returns
// ErrReset when the card was reset or re-powered since the last transaction (the
// transport has already reconnected; the JPKI AP must be selected again and any
// verified PIN is gone), ErrRemoved when the card is gone, ErrServiceGone when the
// PC/SC service is unreachable, ErrTimeout when another application holds the card
// for longer than the transport's bound. Transmit returns ErrNoAnswer when the card
// (or its reader) gave no answer within the transport's bound: the transport is
// then given up (later calls answer ErrRemoved) and the System shows the reader
// without a card until the card is taken out or another one is put in.
type Transport interface {
	Transmit(cmd []byte) ([]byte, error)
	Begin() error
	End() error
	Close() error
}

// System lists readers, reports their state cheaply (no APDU) and connects to cards.
type System interface {
	// Readers lists reader names in a stable order; ErrNoReader when there are none.
	Readers() ([]string, error)
	// Status reports the state of the named readers without talking to the cards.
	Status(readers []string) ([]ReaderStatus, error)
	// Wait blocks until any reader's state differs from known (or a reader is
	// added), or ctx is done (ctx.Err()).
	Wait(ctx context.Context, known []ReaderStatus) error
	// Connect opens a shared connection to the card in reader.
	Connect(reader string) (Transport, error)
	// Close releases the system (PC/SC context).
	Close() error
}

// ReaderStatus is what a reader reports without an APDU.
type ReaderStatus struct {
	Name    string
	Present bool   // a card is in the reader
	Events  uint32 // counter that changes on every insertion/removal (PC/SC event count)
	ATR     []byte
}

// Transport and system errors, distinct so callers can tell them apart with errors.Is.
var (
	ErrRemoved     = errors.New("card removed")
	ErrReset       = errors.New("card was reset by another application")
	ErrNoReader    = errors.New("no smart card reader")
	ErrNoCard      = errors.New("no card in the reader")
	ErrServiceGone = errors.New("PC/SC service not available")
	ErrTimeout     = errors.New("card busy: another application holds it")
	ErrNoAnswer    = errors.New("the card does not answer")
)
