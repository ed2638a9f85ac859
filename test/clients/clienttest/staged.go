package clienttest

import (
	"context"
	"os"
	"testing"
)

// Stage is a piece of a program's stdin, written once the program's output
// contains After ("" at once).
type Stage struct{ Input, After string }

// RunStaged runs name args (environment env, as for Cmd) and writes the stages to
// its stdin in order, each once the output shows its marker (a PIN prompt answered
// before the request, say). stdin then stays open until the output contains until
// or the program exits ("" : until it exits): a client such as gnutls-cli hangs up
// at the end of its input, before the server's answer has come. DefaultTimeout
// bounds the whole run. It returns the combined output and the error.
func RunStaged(t testing.TB, env []string, stages []Stage, until string, name string, args ...string) (string, error) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), DefaultTimeout)
	defer cancel()
	cmd := Cmd(ctx, env, name, args...)
	cmd.Stdin = r
	var out Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		w.Close()
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer w.Close()
		for _, s := range stages {
			if s.After != "" && !out.WaitFor(ctx, done, s.After) {
				return
			}
			if _, err := w.WriteString(s.Input); err != nil {
				return
			}
		}
		if until != "" {
			out.WaitFor(ctx, done, until)
			return
		}
		select {
		case <-done:
		case <-ctx.Done():
		}
	}()
	err = cmd.Wait()
	close(done)
	return out.String(), err
}
