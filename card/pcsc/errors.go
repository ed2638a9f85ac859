package pcsc

import (
	"errors"
	"fmt"

	"github.com/ebfe/scard"
	"github.com/jpki-pkcs11/jpki-pkcs11/card"
)

// classify maps a PC/SC error to the card package's transport errors, keeping the
// PC/SC code in the chain (errors.Is(err, scard.ErrRemovedCard) still works).
func classify(op string, err error) error {
	if err == nil {
		return nil
	}
	var se scard.Error
	if !errors.As(err, &se) {
		return fmt.Errorf("pcsc %s: %w", op, err)
	}
	var kind error
	switch se {
	case scard.ErrRemovedCard, scard.ErrNoSmartcard:
		kind = card.ErrRemoved
	case scard.ErrResetCard, scard.ErrUnpoweredCard:
		kind = card.ErrReset
	case scard.ErrNoReadersAvailable, scard.ErrUnknownReader, scard.ErrReaderUnavailable:
		kind = card.ErrNoReader
	case scard.ErrNoService, scard.ErrServiceStopped, scard.ErrInvalidHandle, scard.ErrCommError,
		scard.ErrShutdown, scard.ErrSystemCancelled, scard.ErrNoMemory, scard.ErrInternalError:
		kind = card.ErrServiceGone
	case scard.ErrTimeout, scard.ErrSharingViolation:
		kind = card.ErrTimeout
	default:
		return fmt.Errorf("pcsc %s: %w (%#08x)", op, se, uint32(se))
	}
	return fmt.Errorf("pcsc %s: %w: %w (%#08x)", op, kind, se, uint32(se))
}

// serviceGone reports whether err means the PC/SC context must be re-established.
func serviceGone(err error) bool {
	return errors.Is(err, card.ErrServiceGone)
}
