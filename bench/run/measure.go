package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jpki-pkcs11/jpki-pkcs11/test/harness"
)

// sample is one measurement of one operation.
type sample struct {
	APDUs int
	Wall  time.Duration
	CPU   time.Duration
	RSSKB int64 // peak resident set size of the process (0 when not measured)
}

// phase is one "phase NAME LOG0 LOG1 WALL CPU" line of p11drv, with its APDUs counted.
type phase struct {
	Name       string
	Log0, Log1 int64 // the phase's part of pcscd's log
	sample
}

var apduLine = regexp.MustCompile(`APDU: ([0-9A-F ]+)`)

// apdusBetween returns the command APDUs pcscd logged between offsets a and b of
// its log (b < 0: to the end).
func (e *env) apdusBetween(a, b int64) ([]string, error) {
	return e.logBetween(a, b, func(line string) (string, bool) {
		if m := apduLine.FindStringSubmatch(line); m != nil {
			return strings.TrimSpace(m[1]), true
		}
		return "", false
	})
}

// logBetween returns what pick takes from each line pcscd logged between offsets
// a and b of its log (b < 0: to the end), in order.
func (e *env) logBetween(a, b int64, pick func(line string) (string, bool)) ([]string, error) {
	f, err := os.Open(e.pc.LogPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := f.Seek(a, io.SeekStart); err != nil {
		return nil, err
	}
	var r io.Reader = f
	if b >= 0 {
		r = io.LimitReader(f, b-a)
	}
	var out []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		if v, ok := pick(sc.Text()); ok {
			out = append(out, v)
		}
	}
	return out, sc.Err()
}

// settle puts every measured process in the same starting state: the card
// powered (OpenSC powers it down when it leaves, and the next process would pay
// the power-up and ATR), then a short pause so the log marks fall between
// operations.
func (e *env) settle() {
	if sys, err := e.pc.System(); err == nil {
		if t, err := sys.Connect(harness.ReaderName(0)); err == nil {
			_ = t.Close() // leaves the card powered
		}
	}
	time.Sleep(20 * time.Millisecond)
}

// proc runs a program to the end and measures it: wall time, CPU (user + system
// of the child), peak RSS and the APDUs pcscd saw while it ran.
func (e *env) proc(stdin io.Reader, name string, args ...string) (sample, string, error) {
	e.settle()
	mark := e.pc.Mark()
	cmd := exec.Command(name, args...)
	cmd.Env = e.childEnv()
	cmd.Stdin = stdin
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return sample{}, out.String(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, tail(out.String()))
	}
	s := sample{Wall: wall, CPU: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		s.RSSKB = ru.Maxrss
	}
	apdus, err := e.apdusBetween(mark, -1)
	if err != nil {
		return sample{}, "", err
	}
	s.APDUs = len(apdus)
	e.lastAPDUs = apdus
	return s, out.String(), nil
}

// driver runs p11drv on module path with a job and returns its phases.
func (e *env) driver(path string, job ...string) ([]phase, error) {
	_, out, err := e.proc(nil, e.drv, append([]string{path}, job...)...)
	if err != nil {
		return nil, err
	}
	return e.phases(out)
}

// phases parses p11drv's output and counts each phase's APDUs.
func (e *env) phases(out string) ([]phase, error) {
	var ps []phase
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && f[0] == "FAIL" {
			return nil, errors.New(line)
		}
		if len(f) != 6 || f[0] != "phase" {
			continue
		}
		var v [4]int64
		for i := range v {
			n, err := strconv.ParseInt(f[2+i], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("p11drv: bad line %q", line)
			}
			v[i] = n
		}
		p := phase{Name: f[1], Log0: v[0], Log1: v[1], sample: sample{Wall: time.Duration(v[2]), CPU: time.Duration(v[3])}}
		if v[0] >= 0 && v[1] >= 0 {
			apdus, err := e.apdusBetween(v[0], v[1])
			if err != nil {
				return nil, err
			}
			p.APDUs = len(apdus)
		}
		ps = append(ps, p)
	}
	if !strings.Contains(out, "\nok\n") && !strings.HasPrefix(out, "ok\n") {
		return ps, fmt.Errorf("p11drv did not finish: %s", tail(out))
	}
	return ps, nil
}

// txTimes splits the card's time between offsets a and b of pcscd's log (its
// lines start with the microseconds since the previous line): inside PC/SC
// transactions, and idle between the end of one and the next BEGIN_TRANSACTION
// (where a module that hands the card from thread to thread slowly loses time).
func (e *env) txTimes(a, b int64) (inside, idle time.Duration, err error) {
	f, err := os.Open(e.pc.LogPath)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	if _, err := f.Seek(a, io.SeekStart); err != nil {
		return 0, 0, err
	}
	sc := bufio.NewScanner(io.LimitReader(f, b-a))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	var now, began, ended int64 // microseconds
	for sc.Scan() {
		line := sc.Text()
		sp := strings.IndexByte(line, ' ')
		if sp <= 0 {
			continue
		}
		us, err := strconv.ParseInt(line[:sp], 10, 64)
		if err != nil {
			continue
		}
		now += us
		switch {
		case strings.Contains(line, "Received command: BEGIN_TRANSACTION"):
			if ended > 0 {
				idle += time.Duration(now-ended) * time.Microsecond
				ended = 0
			}
		case strings.Contains(line, "BEGIN_TRANSACTION for client"):
			began = now
		case strings.Contains(line, "END_TRANSACTION for client") && !strings.Contains(line, "BEGIN_"):
			if began > 0 {
				inside += time.Duration(now-began) * time.Microsecond
				began = 0
			}
			ended = now
		}
	}
	return inside, idle, sc.Err()
}

// pick returns the phases named name.
func pick(ps []phase, name string) []sample {
	var out []sample
	for _, p := range ps {
		if p.Name == name {
			out = append(out, p.sample)
		}
	}
	return out
}

// sum adds samples up (APDUs, wall and CPU).
func sum(ss []sample) sample {
	var t sample
	for _, s := range ss {
		t.APDUs += s.APDUs
		t.Wall += s.Wall
		t.CPU += s.CPU
	}
	return t
}

// median of each field of ss, separately.
func median(ss []sample) sample {
	if len(ss) == 0 {
		return sample{}
	}
	med := func(get func(sample) int64) int64 {
		v := make([]int64, len(ss))
		for i, s := range ss {
			v[i] = get(s)
		}
		slices.Sort(v)
		if len(v)%2 == 1 {
			return v[len(v)/2]
		}
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	return sample{
		APDUs: int(med(func(s sample) int64 { return int64(s.APDUs) })),
		Wall:  time.Duration(med(func(s sample) int64 { return int64(s.Wall) })),
		CPU:   time.Duration(med(func(s sample) int64 { return int64(s.CPU) })),
		RSSKB: med(func(s sample) int64 { return s.RSSKB }),
	}
}

// spread reports whether the APDU counts of ss differ (they should not).
func spread(ss []sample) (lo, hi int) {
	if len(ss) == 0 {
		return 0, 0
	}
	lo, hi = ss[0].APDUs, ss[0].APDUs
	for _, s := range ss {
		lo, hi = min(lo, s.APDUs), max(hi, s.APDUs)
	}
	return lo, hi
}

func tail(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 400 {
		s = "..." + s[len(s)-400:]
	}
	return s
}
