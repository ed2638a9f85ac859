package cli

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jpki-pkcs11/jpki-pkcs11/card"
	"github.com/jpki-pkcs11/jpki-pkcs11/card/nextgen"
)

// system opens the card system once per run.
func (a *app) system() (card.System, error) {
	if a.sys != nil {
		return a.sys, nil
	}
	if a.env.System == nil {
		return nil, errors.New("no smart card system configured")
	}
	s, err := a.env.System()
	if err != nil {
		return nil, err
	}
	a.sys = s
	return s, nil
}

// readers lists the readers with their state, in 'jpki status' order.
func (a *app) readers() ([]card.ReaderStatus, error) {
	s, err := a.system()
	if err != nil {
		return nil, err
	}
	names, err := s.Readers()
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, card.ErrNoReader
	}
	st, err := s.Status(names)
	if err != nil {
		return nil, err
	}
	return st, nil
}

// session is one open card.
type session struct {
	index  int
	reader string
	t      card.Transport
	c      card.Generation
	info   card.Info
}

func (s *session) close() {
	if s.t != nil {
		s.t.Close()
	}
}

// connect opens the card in reader i and identifies it.
func (a *app) connect(rs []card.ReaderStatus, i int) (*session, error) {
	s, err := a.system()
	if err != nil {
		return nil, err
	}
	if !rs[i].Present {
		return nil, fmt.Errorf("reader %d (%s): %w", i, rs[i].Name, card.ErrNoCard)
	}
	t, err := s.Connect(rs[i].Name)
	if err != nil {
		return nil, fmt.Errorf("reader %d (%s): %w", i, rs[i].Name, err)
	}
	ss := &session{index: i, reader: rs[i].Name, t: t}
	a.prog.start("reading the card in " + rs[i].Name)
	ss.c, ss.info, err = card.Open(t, nextgen.Generation)
	a.prog.stop()
	if err != nil {
		ss.close()
		return nil, fmt.Errorf("reader %d (%s): %w", i, rs[i].Name, err)
	}
	return ss, nil
}

// open picks the card the command works on (--reader, or the only card, or the
// only JPKI card) and opens it. It refuses cards without JPKI.
func (a *app) open() (*session, error) {
	rs, err := a.readers()
	if err != nil {
		return nil, err
	}
	if a.opt.reader != "" {
		i, err := pickReader(rs, a.opt.reader)
		if err != nil {
			return nil, err
		}
		return a.checkJPKI(a.connect(rs, i))
	}
	var present []int
	for i, r := range rs {
		if r.Present {
			present = append(present, i)
		}
	}
	switch len(present) {
	case 0:
		return nil, fmt.Errorf("%w (readers: %s)", card.ErrNoCard, readerNames(rs))
	case 1:
		return a.checkJPKI(a.connect(rs, present[0]))
	}
	var jpki []*session
	for _, i := range present {
		s, err := a.connect(rs, i)
		if err != nil {
			continue
		}
		if unusable(s) != nil {
			s.close()
			continue
		}
		jpki = append(jpki, s)
	}
	if len(jpki) == 1 {
		return jpki[0], nil
	}
	for _, s := range jpki {
		s.close()
	}
	if len(jpki) == 0 {
		return nil, fmt.Errorf("none of the cards present is a My Number Card (%w)", card.ErrNoJPKI)
	}
	return nil, usagef("%d My Number Cards are present: choose one with --reader N (see 'jpki status')", len(jpki))
}

func (a *app) checkJPKI(s *session, err error) (*session, error) {
	if err != nil {
		return nil, err
	}
	if err := unusable(s); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// unusable says why the card of s cannot be used for JPKI (nil when it can).
func unusable(s *session) error {
	switch s.info.Kind {
	case card.KindNotJPKI:
		return fmt.Errorf("reader %d (%s): %w", s.index, s.reader, card.ErrNoJPKI)
	case card.KindUnknownJPKI:
		return fmt.Errorf("reader %d (%s) holds %s: %s. 'jpki diagnose --reader %d --out report.txt' writes what the card answers, safe to attach to a bug report",
			s.index, s.reader, s.info.Kind, unknownJPKI(s.info), s.index)
	case card.KindIPhone:
		return fmt.Errorf("reader %d (%s) holds an iPhone smartphone certificate: %s", s.index, s.reader, card.IPhoneNotSupported)
	}
	return nil
}

// pickReader resolves --reader: an index in status order, an exact name, or a
// unique part of a name.
func pickReader(rs []card.ReaderStatus, sel string) (int, error) {
	if n, err := strconv.Atoi(sel); err == nil {
		if n < 0 || n >= len(rs) {
			return 0, usagef("no reader %d: there are %d (%s)", n, len(rs), readerNames(rs))
		}
		return n, nil
	}
	for i, r := range rs {
		if r.Name == sel {
			return i, nil
		}
	}
	found := -1
	for i, r := range rs {
		if strings.Contains(strings.ToLower(r.Name), strings.ToLower(sel)) {
			if found >= 0 {
				return 0, usagef("--reader %q matches several readers (%s): give the index", sel, readerNames(rs))
			}
			found = i
		}
	}
	if found < 0 {
		return 0, usagef("no reader matches %q (readers: %s)", sel, readerNames(rs))
	}
	return found, nil
}

func readerNames(rs []card.ReaderStatus) string {
	var b strings.Builder
	for i, r := range rs {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%d: %s", i, r.Name)
	}
	return b.String()
}

// needKey refuses, before any PIN is asked, a key the card cannot use.
func needKey(s *session, k card.Key) error {
	switch {
	case s.info.Kind == card.KindJuki:
		return fmt.Errorf("reader %d holds a Juki card: its certificates have all expired (none issued since 2015); use your My Number Card", s.index)
	case k == card.SignKey && (s.info.Kind == card.KindMyNumberNoSign || !s.info.HasSignCert):
		return fmt.Errorf("this card has no signature certificate (cards of holders under 15 have none): use --key auth, or ask your municipal office")
	}
	return nil
}
