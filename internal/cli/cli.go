// Package cli is the jpki command: the card holder's companion for the My Number
// Card. It talks to the card through the card layer directly (never through our
// PKCS#11 module). Run is the whole program; cmd/jpki only wires it to the process.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/jpki-pkcs11/jpki-pkcs11/card"
	"github.com/jpki-pkcs11/jpki-pkcs11/internal/version"
)

// Env is everything the program takes from its process, so tests can run it in
// process with a virtual card system.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// System opens the smart card system (PC/SC in the binary).
	System func() (card.System, error)
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// StdinTerminal and StderrTerminal tell whether those are terminals: PINs are
	// asked on the terminal without echo, progress is shown only on a terminal.
	StdinTerminal, StderrTerminal bool
	// ReadPassword reads one line from the terminal without echo.
	ReadPassword func() ([]byte, error)
}

// Exit codes.
const (
	ExitOK    = 0
	ExitError = 1 // the operation failed (card, PIN, file ...)
	ExitUsage = 2 // the command line is wrong
)

// options are the flags every command takes.
type options struct {
	reader   string
	json     bool
	pinStdin bool
}

// app is one run of the program.
type app struct {
	env  Env
	opt  options
	sys  card.System
	prog *progress
}

type command struct {
	summary string
	run     func(a *app, args []string) error
}

func commands() map[string]command {
	return map[string]command{
		"status":   {"every reader, what is in it, PIN tries left, certificate validity and renewal", (*app).status},
		"certs":    {"export the certificates [--pem|--der] [--out DIR] [--sign]", (*app).certs},
		"holder":   {"the holder's name, birth date, sex, address (asks the signature password)", (*app).holder},
		"pin":      {"pin status | pin change auth|sign", (*app).pin},
		"sign":     {"sign a file: --key auth|sign [--detached] [--out SIG] FILE (CMS/PKCS#7)", (*app).sign},
		"verify":   {"check a CMS signature and its chain: FILE SIG [--ca CAFILE]", (*app).verify},
		"pdf":      {"pdf sign IN.pdf OUT.pdf [--reason TEXT] [--location TEXT]", (*app).pdf},
		"diagnose": {"what the card answers, safe to share in a bug report: [--reader N] [--out FILE] (no PIN asked)", (*app).diagnose},
		"setup":    {"register the card in your Firefox, Thunderbird and NSS databases [--status] [--remove] [--module PATH]", (*app).setup},
		"help":     {"this help", (*app).help},
	}
}

// usageError is a mistake on the command line (exit 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

// Run runs the jpki command with args (without the program name) and returns the
// exit code.
func Run(args []string, env Env) int {
	if env.Now == nil {
		env.Now = time.Now
	}
	a := &app{env: env, prog: newProgress(env.Stderr, env.StderrTerminal)}
	defer a.prog.stop()
	defer func() {
		if a.sys != nil {
			a.sys.Close()
		}
	}()
	err := a.dispatch(args)
	a.prog.stop()
	if err == nil {
		return ExitOK
	}
	code, msg := ExitError, explain(err)
	var ue usageError
	if errors.As(err, &ue) {
		code, msg = ExitUsage, ue.msg
		fmt.Fprintf(env.Stderr, "jpki: %s\nRun 'jpki help' for the commands.\n", msg)
	} else {
		fmt.Fprintf(env.Stderr, "jpki: %s\n", msg)
	}
	if a.opt.json {
		_ = writeJSON(env.Stdout, map[string]any{"error": msg, "exit_code": code})
	}
	return code
}

func (a *app) dispatch(args []string) error {
	if len(args) == 1 && (args[0] == "--version" || args[0] == "-version" || args[0] == "version") {
		fmt.Fprintln(a.env.Stdout, "jpki", version.Version)
		return nil
	}
	fs := a.flags("jpki")
	rest, err := parseFlags(fs, args, true)
	if err != nil {
		return err
	}
	if len(rest) == 0 {
		return a.help(nil)
	}
	cmd, ok := commands()[rest[0]]
	if !ok {
		if rest[0] == "-h" || rest[0] == "--help" {
			return a.help(nil)
		}
		return usagef("unknown command %q", rest[0])
	}
	return cmd.run(a, rest[1:])
}

func (a *app) help([]string) error {
	w := a.env.Stdout
	fmt.Fprintln(w, "jpki: the My Number Card holder's tool (JPKI certificates, PINs, signatures)")
	fmt.Fprintln(w, "\nUsage: jpki COMMAND [flags]")
	cmds := commands()
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w, "\nFlags for every command:")
	fmt.Fprintln(w, "  --reader N|NAME  the reader (index or name as 'jpki status' lists them); optional with one card")
	fmt.Fprintln(w, "  --json           machine-readable output")
	fmt.Fprintln(w, "  --pin-stdin      read PINs from stdin, one line per PIN asked, instead of the terminal")
	fmt.Fprintln(w, "\njpki --version prints the version ("+version.Version+").")
	fmt.Fprintln(w, "\nPINs: authentication PIN = 4 digits (3 tries); signature password = 6-16 of A-Z, 0-9 (5 tries).")
	fmt.Fprintln(w, "A blocked PIN can only be reset at your municipal office. PINs are never taken from the command line.")
	return nil
}

// flags returns a flag set with the common flags bound to a.opt.
func (a *app) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&a.opt.reader, "reader", a.opt.reader, "reader index or name")
	fs.BoolVar(&a.opt.json, "json", a.opt.json, "JSON output")
	fs.BoolVar(&a.opt.pinStdin, "pin-stdin", a.opt.pinStdin, "read PINs from stdin")
	return fs
}

// parseFlags parses flags anywhere among the arguments and returns the positional
// ones. With stopAtFirst it stops at the first positional argument (the command).
func parseFlags(fs *flag.FlagSet, args []string, stopAtFirst bool) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, usagef("%s: see 'jpki help'", fs.Name())
			}
			return nil, usagef("%s: %v", fs.Name(), err)
		}
		rest := fs.Args()
		consumed := len(args) - len(rest)
		if consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		if stopAtFirst {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// want checks the number of positional arguments.
func want(cmd string, pos []string, n int, what string) error {
	if len(pos) != n {
		return usagef("%s takes %s (got %d argument(s): %s)", cmd, what, len(pos), strings.Join(pos, " "))
	}
	return nil
}
