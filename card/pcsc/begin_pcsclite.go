//go:build !windows && !darwin

package pcsc

import (
	"time"

	"github.com/ebfe/scard"
)

// beginTx is BeginTransaction with the bound: beginDirect on pcsc-lite.
func (c *Conn) beginTx() error { return c.beginDirect() }

// beginDirect runs BeginTransaction on the calling goroutine: no goroutine and
// no thread hand-off per transaction, which a warm signature would feel (issue 8).
// The bound is kept by a watchdog: pcsc-lite's client asks pcscd again every
// 100 ms while another application holds the card, looking the handle up each
// time, so disconnecting the handle after the bound makes the call return (a
// transaction it got meanwhile ends with the handle). Begin then answers
// card.ErrTimeout, and a new connection is made in the background (pcscd lets
// it in only when the other application's transaction is over); the next Begin
// waits for it under the same bound. Disconnecting with LeaveCard keeps the
// card's state, as the late transaction of beginBounded does.
func (c *Conn) beginDirect() error {
	h := c.h
	gone := make(chan struct{})
	watchdog := time.AfterFunc(c.wait, func() {
		_ = h.Disconnect(scard.LeaveCard)
		close(gone)
	})
	err := h.BeginTransaction()
	if watchdog.Stop() {
		return classify("begin transaction", err)
	}
	<-gone
	c.h = nil
	fin := make(chan struct{})
	c.pending = fin
	c.next, c.nextErr = nil, nil
	ctx := c.ctx
	go func() {
		defer close(fin)
		nh, err := ctx.Connect(c.reader, scard.ShareShared, scard.ProtocolAny)
		c.next, c.nextErr = nh, classify("connect", err)
	}()
	return classify("begin transaction", scard.ErrTimeout)
}
