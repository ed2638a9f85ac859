package cli

import (
	"fmt"
	"io"
	"time"
)

// progress shows a spinner with a message on stderr while the card is read, only
// when stderr is a terminal. It is stopped before any prompt and before output.
type progress struct {
	w     io.Writer
	on    bool
	quit  chan struct{}
	done  chan struct{}
	shown bool
}

func newProgress(w io.Writer, terminal bool) *progress { return &progress{w: w, on: terminal} }

func (p *progress) start(msg string) {
	if !p.on {
		return
	}
	p.stop()
	p.quit, p.done = make(chan struct{}), make(chan struct{})
	go func(quit, done chan struct{}) {
		defer close(done)
		frames := `|/-\`
		t := time.NewTicker(150 * time.Millisecond)
		defer t.Stop()
		for i := 0; ; i++ {
			fmt.Fprintf(p.w, "\r%c %s", frames[i%len(frames)], msg)
			select {
			case <-quit:
				return
			case <-t.C:
			}
		}
	}(p.quit, p.done)
	p.shown = true
}

func (p *progress) stop() {
	if !p.shown {
		return
	}
	close(p.quit)
	<-p.done
	fmt.Fprint(p.w, "\r\033[K")
	p.shown = false
}
