// Command jpki is the My Number Card holder's tool: card status, PIN tries and
// changes, certificate export, the holder's attributes, CMS and PDF signatures.
// It talks to the card through PC/SC and the card layer (never through the
// PKCS#11 module). See docs/CLI.md.
package main

import (
	"os"

	"golang.org/x/term"

	"github.com/jpki-pkcs11/jpki-pkcs11/card"
	"github.com/jpki-pkcs11/jpki-pkcs11/card/pcsc"
	"github.com/jpki-pkcs11/jpki-pkcs11/internal/cli"
)

func main() {
	stdin := int(os.Stdin.Fd())
	os.Exit(cli.Run(os.Args[1:], cli.Env{
		Stdin:          os.Stdin,
		Stdout:         os.Stdout,
		Stderr:         os.Stderr,
		System:         func() (card.System, error) { return pcsc.New() },
		StdinTerminal:  term.IsTerminal(stdin),
		StderrTerminal: term.IsTerminal(int(os.Stderr.Fd())),
		ReadPassword:   func() ([]byte, error) { return term.ReadPassword(stdin) },
	}))
}
