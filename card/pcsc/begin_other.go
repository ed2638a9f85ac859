//go:build windows || darwin

package pcsc

// beginTx is BeginTransaction with the bound: on its own goroutine
// (beginBounded), since this PC/SC offers no way to end a waiting call.
func (c *Conn) beginTx() error { return c.beginBounded() }
