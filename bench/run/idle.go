package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jpki-pkcs11/jpki-pkcs11/card/pcsc"
	"github.com/jpki-pkcs11/jpki-pkcs11/test/harness"
)

// idleWindow is one "idle" line of p11drv: a module doing nothing for a while.
type idleWindow struct {
	wall, cpu          time.Duration
	nvcsw, nivcsw      int64
	threads0, threads1 int
	returns            int
	requests           []string // the requests pcscd logged in the window ("CMD_..." names)
}

// idleResult is the idle section of one module.
type idleResult struct {
	wait, loaded idleWindow
	// per insertion: from the insertion (the signal to jpki-vcard) and from
	// pcscd's report of it (a blocked wait of another process returning) to
	// C_WaitForSlotEvent's return
	fromInsert, fromPCSCD []time.Duration
	threadsSigned         int // threads after a login and 20 signatures
	err                   error
}

// idle measures m: loaded and idle, then blocked in C_WaitForSlotEvent followed
// by insertion rounds.
func (e *env) idle(m module) idleResult {
	var r idleResult
	secs := fmt.Sprint(int(e.cfg.idle / time.Second))
	_, out, err := e.proc(nil, e.drv, m.Path, "idle", "loaded", secs)
	if err == nil {
		r.loaded, err = e.idleLine(out)
	}
	if err != nil {
		r.err = fmt.Errorf("loaded: %w", err)
		return r
	}
	_, out, err = e.proc(nil, e.drv, m.Path, "sign", "20")
	if err == nil {
		err = fmt.Errorf("p11drv sign gave no threads line: %s", tail(out))
		for _, l := range strings.Split(out, "\n") {
			if n, ok := strings.CutPrefix(l, "threads "); ok {
				r.threadsSigned, err = strconv.Atoi(n)
			}
		}
	}
	if err != nil {
		r.err = fmt.Errorf("threads after signatures: %w", err)
		return r
	}
	if err := e.idleWait(m, secs, &r); err != nil {
		r.err = fmt.Errorf("waiting: %w", err)
	}
	return r
}

// idleLine parses p11drv's "idle MODE LOG0 LOG1 WALL CPU NVCSW NIVCSW T0 T1 RETURNS".
func (e *env) idleLine(out string) (idleWindow, error) {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) != 11 || f[0] != "idle" {
			continue
		}
		var v [9]int64
		for i := range v {
			n, err := strconv.ParseInt(f[2+i], 10, 64)
			if err != nil {
				return idleWindow{}, fmt.Errorf("p11drv: %q: %w", line, err)
			}
			v[i] = n
		}
		w := idleWindow{wall: time.Duration(v[2]), cpu: time.Duration(v[3]), nvcsw: v[4], nivcsw: v[5],
			threads0: int(v[6]), threads1: int(v[7]), returns: int(v[8])}
		var err error
		w.requests, err = e.requestsBetween(v[0], v[1])
		return w, err
	}
	return idleWindow{}, fmt.Errorf("p11drv gave no idle line: %s", tail(out))
}

// requestsBetween returns the requests pcscd logged between two offsets of its
// log (one "Received command: NAME from client N" line each).
func (e *env) requestsBetween(a, b int64) ([]string, error) {
	return e.logBetween(a, b, func(line string) (string, bool) {
		_, cmd, ok := strings.Cut(line, "Received command: ")
		name, _, _ := strings.Cut(cmd, " ")
		return name, ok
	})
}

// idleWait runs p11drv's idle wait job: the window, then insertion rounds timed
// against a reference waiter (a blocked SCardGetStatusChange of this process,
// which returns when pcscd reports the insertion), then quit.
func (e *env) idleWait(m module, secs string, r *idleResult) error {
	e.settle()
	cmd := exec.Command(e.drv, m.Path, "idle", "wait", secs)
	cmd.Env = e.childEnv()
	in, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	outp, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() {
		io.WriteString(in, "quit\n")
		in.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			fmt.Fprintf(os.Stderr, "bench: %s: p11drv did not exit after C_Finalize: killed\n", m.Name)
			_ = cmd.Process.Kill()
			<-done
		}
	}()
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(outp)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	next := func(prefix string, within time.Duration) (string, error) {
		t := time.NewTimer(within)
		defer t.Stop()
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					return "", errors.New("p11drv ended")
				}
				if strings.HasPrefix(l, "FAIL") {
					return "", errors.New(l)
				}
				if strings.HasPrefix(l, prefix) {
					return l, nil
				}
			case <-t.C:
				return "", fmt.Errorf("no %q line from p11drv within %v", prefix, within)
			}
		}
	}
	l, err := next("idle ", e.cfg.idle+60*time.Second)
	if err != nil {
		return err
	}
	if r.wait, err = e.idleLine(l); err != nil {
		return err
	}
	drain := func() {
		for {
			select {
			case <-lines:
			default:
				return
			}
		}
	}
	ref, err := pcsc.New()
	if err != nil {
		return err
	}
	defer ref.Close()
	reader := harness.ReaderName(0)
	for i := 0; i < e.cfg.idleRounds; i++ {
		drain()
		if err := e.card.Pull(); err != nil {
			return err
		}
		if _, err := next("event ", 10*time.Second); err != nil {
			return fmt.Errorf("card removed: %w", err)
		}
		if err := e.pc.WaitCard(0, false, 10*time.Second); err != nil {
			return err
		}
		known, err := ref.Status([]string{reader})
		if err != nil {
			return err
		}
		refDone := make(chan time.Time, 1)
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		go func() {
			_ = ref.Wait(ctx, known)
			refDone <- time.Now()
		}()
		time.Sleep(300 * time.Millisecond) // both waiters are blocked in pcscd
		drain()
		t0 := time.Now()
		if err := e.card.Insert(); err != nil {
			cancel()
			return err
		}
		l, err := next("event ", 10*time.Second)
		refAt := <-refDone
		cancel()
		if err != nil {
			return fmt.Errorf("card inserted: %w", err)
		}
		f := strings.Fields(l)
		ns, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return fmt.Errorf("p11drv: %q: %w", l, err)
		}
		at := time.Unix(0, ns)
		r.fromInsert = append(r.fromInsert, at.Sub(t0))
		r.fromPCSCD = append(r.fromPCSCD, at.Sub(refAt))
		if err := e.pc.WaitCard(0, true, 10*time.Second); err != nil {
			return err
		}
	}
	return nil
}

// medianDuration is the median of ds (0 when empty).
func medianDuration(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// requestSummary counts requests by name, most frequent first: "3 CMD_X, 1 CMD_Y".
func requestSummary(reqs []string) string {
	n := map[string]int{}
	for _, r := range reqs {
		n[r]++
	}
	names := make([]string, 0, len(n))
	for k := range n {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool {
		if n[names[i]] != n[names[j]] {
			return n[names[i]] > n[names[j]]
		}
		return names[i] < names[j]
	})
	var parts []string
	for _, k := range names {
		parts = append(parts, fmt.Sprintf("%d %s", n[k], k))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// idleTable writes the idle section.
func (r *report) idleTable(w func(string, ...any)) {
	if len(r.idle) == 0 {
		return
	}
	secs := r.cfg.idle.Seconds()
	w("## Idle: blocked in C_WaitForSlotEvent, and loaded doing nothing\n\n")
	w("Each module in a process of its own (`p11drv idle`), after C_Initialize and\n")
	w("C_GetSlotList with the card in the reader: for %.0f s with one thread blocked in\n", secs)
	w("`C_WaitForSlotEvent(0)` (called again after each return, as Firefox and every NSS\n")
	w("program keep one all day), and for %.0f s with no call at all. CPU time and context\n", secs)
	w("switches are the whole process's (getrusage `RUSAGE_SELF`: every thread, the module's\n")
	w("own included; the main thread's one sleep is one voluntary switch); pcscd requests\n")
	w("are the `Received command` lines of pcscd's `--debug` log in the window (from any\n")
	w("process: nothing else talks to this pcscd meanwhile).\n\n")
	w("| %.0f s, no card change | %s |\n", secs, r.modHeads(" | "))
	w("|---|%s\n", strings.Repeat("---:|", len(r.mods)))
	row := func(label string, cell func(res idleResult) string) {
		w("| %s |", label)
		for _, m := range r.mods {
			res := r.idle[m.Name]
			if res.err != nil {
				w(" failed |")
				continue
			}
			w(" %s |", cell(res))
		}
		w("\n")
	}
	for _, mode := range []string{"wait", "loaded"} {
		win := func(res idleResult) idleWindow {
			if mode == "wait" {
				return res.wait
			}
			return res.loaded
		}
		what := "blocked in C_WaitForSlotEvent"
		if mode == "loaded" {
			what = "loaded, no call"
		}
		row(what+": CPU time, ms", func(res idleResult) string {
			return fmt.Sprintf("%.1f (%.3f per s)", ms(win(res).cpu), ms(win(res).cpu)/secs)
		})
		row(what+": voluntary / involuntary context switches", func(res idleResult) string {
			return fmt.Sprintf("%d / %d", win(res).nvcsw, win(res).nivcsw)
		})
		row(what+": pcscd requests", func(res idleResult) string { return fmt.Sprint(len(win(res).requests)) })
		if mode == "wait" {
			row(what+": returns with no card change", func(res idleResult) string { return fmt.Sprint(res.wait.returns) })
			row("threads after C_GetSlotList / after 20 signatures / while waiting (+1: the host's waiter)", func(res idleResult) string {
				return fmt.Sprintf("%d / %d / %d", res.wait.threads0, res.threadsSigned, res.wait.threads1)
			})
		}
	}
	durs := func(ds []time.Duration) string {
		if len(ds) == 0 {
			return "none"
		}
		return fmt.Sprintf("%.1f (%.1f–%.1f)", ms(medianDuration(ds)), ms(slices.Min(ds)), ms(slices.Max(ds)))
	}
	row("card inserted → C_WaitForSlotEvent returns, ms from the insertion", func(res idleResult) string { return durs(res.fromInsert) })
	row("the same, ms from pcscd's report of it", func(res idleResult) string { return durs(res.fromPCSCD) })
	w("\nThe requests pcscd logged in the windows:\n\n")
	for _, m := range r.mods {
		res := r.idle[m.Name]
		if res.err != nil {
			w("- %s: failed: %v\n", m.Name, res.err)
			continue
		}
		w("- %s: blocked: %s; loaded: %s\n", m.Name, requestSummary(res.wait.requests), requestSummary(res.loaded.requests))
	}
	w("\nInsertion rows: median (min–max) of %d insertions, each after the card was pulled\n", r.cfg.idleRounds)
	w("and both waiters were back in their wait. \"From the insertion\" starts when\n")
	w("jpki-vcard is told to connect to vpcd, so it includes pcscd's own poll of the vpcd\n")
	w("reader (every 400 ms); \"from pcscd's report\" starts when a blocked\n")
	w("SCardGetStatusChange of the benchmark process (card/pcsc's Wait, on its own context)\n")
	w("returns with the insertion: what the module adds to what PC/SC already took.\n\n")
}

// beforeResult is the warm signature of our module against an earlier build of
// it, measured in the same run at both per-APDU delays (-before).
type beforeResult struct {
	latency     time.Duration
	now, before result
}

// warmAgainst runs the warm-signature job on our module and on the build at
// e.cfg.before, interleaved, runs times each.
func (e *env) warmAgainst(ours module, runs int, lat time.Duration) beforeResult {
	r := beforeResult{latency: lat}
	prev := module{Name: "before", Path: e.cfg.before}
	for i := 0; i < runs; i++ {
		for _, m := range []module{ours, prev} {
			res := &r.now
			if m.Name == "before" {
				res = &r.before
			}
			if res.err != nil {
				continue
			}
			ps, err := e.driver(m.Path, "sign", fmt.Sprint(e.cfg.warm))
			if err != nil {
				res.err = err
				continue
			}
			res.samples = append(res.samples, pick(ps, "sign-warm")...)
		}
	}
	return r
}

// beforeTable writes what this build costs a warm signature (-before).
func (r *report) beforeTable(w func(string, ...any)) {
	if len(r.before) == 0 {
		return
	}
	w("## This build against an earlier one: a warm signature\n\n")
	w("`-before %s`: the same warm-signature job (p11drv sign: C_SignInit + C_Sign after\n", r.cfg.before)
	w("login, %d per run) on this build of jpki-pkcs11 and on that one, interleaved in the same\n", r.cfg.warm)
	w("run. Median ms per signature (wall, and CPU of the whole process).\n\n")
	w("| delay per APDU | this build: wall | CPU | before: wall | CPU | wall, this / before |\n")
	w("|---|---:|---:|---:|---:|---:|\n")
	for _, b := range r.before {
		if b.now.err != nil || b.before.err != nil || len(b.now.samples) == 0 || len(b.before.samples) == 0 {
			w("| %v | error | | error | | |\n", b.latency)
			continue
		}
		n, p := median(b.now.samples), median(b.before.samples)
		w("| %v | %.3f | %.3f | %.3f | %.3f | %.2fx |\n", b.latency, ms(n.Wall), ms(n.CPU), ms(p.Wall), ms(p.CPU),
			float64(n.Wall)/float64(p.Wall))
	}
	w("\n")
	for _, b := range r.before {
		if b.now.err == nil && b.before.err == nil && len(b.now.samples) > 0 && len(b.before.samples) > 0 {
			n, p := median(b.now.samples), median(b.before.samples)
			w("- %v per APDU: this build %+.3f ms wall, %+.3f ms CPU per signature.\n", b.latency,
				ms(n.Wall)-ms(p.Wall), ms(n.CPU)-ms(p.CPU))
		}
	}
	w("\n")
}
