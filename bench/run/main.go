// Command run is `make bench` (issue 8): it starts a private pcscd with a virtual
// My Number Card (test/harness), puts OpenSC's PKCS#11 module and ours through the
// same jobs on that card in one run, counts the APDUs of each job in pcscd's
// --apdu log, times them, and writes BENCHMARKS.md and the chart data
// (bench/chart.dat, drawn by bench/chart.gp).
//
// It never loads a PKCS#11 module itself: every job runs in a child process
// (pkcs11-tool, build/bench/p11drv, build/bench/floor).
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/jpki-pkcs11/jpki-pkcs11/test/harness"
)

// module is a PKCS#11 module under test.
type module struct {
	Name string // column title
	Path string
}

// env is one benchmark run: the private pcscd, the card and the tools.
type env struct {
	pc        *harness.PCSC
	card      *harness.Card
	cardDir   string
	drv       string // build/bench/p11drv
	floor     string // build/bench/floor
	tmp       string
	pin       string
	lastAPDUs []string // APDUs of the last process run by proc
	cfg       config
}

type config struct {
	runs, latRuns, warm, polls int
	pollGap                    time.Duration
	latency                    time.Duration
	threads, perThread         int
	concRounds                 int
	idle                       time.Duration
	idleRounds                 int
	before                     string // an earlier build of our module, for the warm signature
	out, chartData             string
}

func main() {
	var c config
	var ours, opensc string
	flag.StringVar(&ours, "ours", "build/jpki-pkcs11.so", "our module (empty: OpenSC only)")
	flag.StringVar(&opensc, "opensc", "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so", "OpenSC's module")
	flag.IntVar(&c.runs, "runs", 7, "runs of each job (medians)")
	flag.IntVar(&c.latRuns, "latency-runs", 3, "runs of each job with the per-APDU delay")
	flag.IntVar(&c.warm, "warm", 20, "warm signatures per run")
	flag.IntVar(&c.polls, "polls", 10, "C_GetTokenInfo polls after the first")
	flag.DurationVar(&c.pollGap, "poll-gap", time.Second, "time between two polls")
	flag.DurationVar(&c.latency, "latency", 20*time.Millisecond, "per-APDU delay of the second table")
	flag.IntVar(&c.threads, "threads", 8, "concurrency: threads")
	flag.IntVar(&c.perThread, "per-thread", 20, "concurrency: signatures per thread")
	flag.IntVar(&c.concRounds, "conc-rounds", 4, "concurrency: rounds (one thread, then all threads) per run")
	flag.DurationVar(&c.idle, "idle", 30*time.Second, "idle: each window (blocked in C_WaitForSlotEvent, loaded); 0 skips the section")
	flag.IntVar(&c.idleRounds, "idle-rounds", 5, "idle: card insertions timed to C_WaitForSlotEvent's return")
	flag.StringVar(&c.before, "before", "", "an earlier build of our module: its warm signature against this one's")
	flag.StringVar(&c.out, "out", "BENCHMARKS.md", "report")
	flag.StringVar(&c.chartData, "chart-data", "bench/chart.dat", "chart data for bench/chart.gp")
	flag.Parse()
	mods := []module{{"OpenSC", opensc}}
	if ours != "" {
		mods = append(mods, module{"jpki-pkcs11", ours})
	}
	if err := run(c, mods); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(c config, mods []module) error {
	root, err := harness.RepoRoot()
	if err != nil {
		return err
	}
	if err := os.Chdir(root); err != nil {
		return err
	}
	if c.before != "" {
		if c.before, err = filepath.Abs(c.before); err != nil {
			return err
		}
		if _, err := os.Stat(c.before); err != nil {
			return fmt.Errorf("-before: %w", err)
		}
	}
	for i, m := range mods {
		if mods[i].Path, err = filepath.Abs(m.Path); err != nil {
			return err
		}
		if _, err := os.Stat(mods[i].Path); err != nil {
			return fmt.Errorf("module %s: %w", m.Name, err)
		}
	}
	e := &env{drv: filepath.Join(root, "build/bench/p11drv"), floor: filepath.Join(root, "build/bench/floor"),
		pin: "1234", cfg: c}
	for _, p := range []string{e.drv, e.floor} {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("%w (make bench builds it)", err)
		}
	}
	if _, err := exec.LookPath("pkcs11-tool"); err != nil {
		return fmt.Errorf("pkcs11-tool (opensc): %w", err)
	}
	pc, err := harness.Start()
	if err != nil {
		return err
	}
	e.pc = pc
	defer pc.Stop(false)
	e.tmp = pc.Dir
	if err := os.WriteFile(filepath.Join(e.tmp, "data"), []byte("the data to sign for the benchmark"), 0o644); err != nil {
		return err
	}
	if e.cardDir, err = pc.NewCardDir("bench"); err != nil {
		return err
	}
	rep := &report{mods: mods, cfg: c, started: time.Now(), loadStart: loadAvg()}
	for _, lat := range []time.Duration{0, c.latency} {
		if err := e.serve(lat); err != nil {
			return err
		}
		runs := c.runs
		if lat > 0 {
			runs = c.latRuns
		}
		fmt.Fprintf(os.Stderr, "bench: latency %v, %d runs\n", lat, runs)
		t := &table{latency: lat, floor: map[int]result{}}
		t.res = e.jobs(mods, runs, lat == 0, t.floor)
		if lat == 0 {
			for _, m := range mods {
				rep.trace = append(rep.trace, e.trace(m)...)
			}
			if c.idle > 0 {
				rep.idle = map[string]idleResult{}
				for _, m := range mods {
					fmt.Fprintf(os.Stderr, "bench: idle, %s: 2 x %v\n", m.Name, c.idle)
					res := e.idle(m)
					if res.err != nil {
						fmt.Fprintf(os.Stderr, "bench: idle %s: %v\n", m.Name, res.err)
					}
					rep.idle[m.Name] = res
				}
			}
		}
		rep.tables = append(rep.tables, t)
		if c.before != "" && len(mods) > 1 {
			fmt.Fprintf(os.Stderr, "bench: warm signature against %s\n", c.before)
			rep.before = append(rep.before, e.warmAgainst(mods[len(mods)-1], runs, lat))
		}
	}
	rep.finished = time.Now()
	rep.loadEnd = loadAvg()
	return rep.write()
}

// serve (re)starts the card with a per-APDU delay.
func (e *env) serve(lat time.Duration) error {
	if e.card != nil {
		e.card.Stop()
		if err := e.pc.WaitCard(0, false, 10*time.Second); err != nil {
			return err
		}
	}
	c, err := e.pc.StartCard(e.cardDir, 0, "--latency", lat.String())
	if err != nil {
		return err
	}
	e.card = c
	return nil
}

func (e *env) childEnv() []string {
	return append(e.pc.Env(), "BENCH_APDU_LOG="+e.pc.LogPath, "BENCH_PIN="+e.pin)
}

// result is what one job gave over its runs.
type result struct {
	samples []sample
	err     error
	extra   map[string]float64 // job-specific figures (errors, ratios)
}

// op is one row of the tables: a job and how it is run.
type op struct {
	key, label, how string
}

var ops = []op{
	{"L", "`pkcs11-tool -L`", "process"},
	{"sign", "`--login --sign` once, cold", "process"},
	{"warm", "each further signature after login", "p11drv sign: C_SignInit + C_Sign"},
	{"objects", "list objects without login (`-O`)", "process"},
	{"login", "login only (C_Login)", "p11drv login: the C_Login call"},
	{"poll-first", "C_GetTokenInfo, first call", "p11drv poll"},
	{"poll", "C_GetTokenInfo polled, no card change (all polls)", "p11drv poll"},
	{"relist", "card removed and re-inserted, listed again", "p11drv reinsert: the second listing"},
	{"load", "module load + C_Initialize + C_GetSlotList", "p11drv load"},
}

// jobs runs every job on every module. Runs are interleaved (run 1 of each
// module, then run 2, ...) so that a slow moment of the machine falls on both.
// The floor client runs between the warm signatures of the modules; its
// results go to floor (by APDUs per signature).
func (e *env) jobs(mods []module, runs int, full bool, floor map[int]result) map[string]map[string]result {
	res := map[string]map[string]result{}
	for _, m := range mods {
		res[m.Name] = map[string]result{}
	}
	data := filepath.Join(e.tmp, "data")
	sig := filepath.Join(e.tmp, "sig")
	// each runs one job on each module, runs times, and files the samples under key.
	each := func(key string, n int, job func(m module) ([]sample, error)) {
		for i := 0; i < n; i++ {
			for _, m := range mods {
				r := res[m.Name][key]
				if r.err != nil {
					continue
				}
				ss, err := job(m)
				if err != nil {
					fmt.Fprintf(os.Stderr, "bench: %s %s: %v\n", m.Name, key, err)
					r = result{err: err}
				} else {
					r.samples = append(r.samples, ss...)
				}
				res[m.Name][key] = r
			}
		}
	}
	tool := func(args ...string) func(m module) ([]sample, error) {
		return func(m module) ([]sample, error) {
			s, _, err := e.proc(nil, "pkcs11-tool", append([]string{"--module", m.Path}, args...)...)
			return []sample{s}, err
		}
	}
	drv := func(phase string, job ...string) func(m module) ([]sample, error) {
		return func(m module) ([]sample, error) {
			ps, err := e.driver(m.Path, job...)
			return pick(ps, phase), err
		}
	}
	each("L", runs, tool("-L"))
	each("sign", runs, tool("--login", "--pin", e.pin, "--sign", "-m", "SHA256-RSA-PKCS", "-i", data, "-o", sig))
	each("objects", runs, tool("-O"))
	warm := drv("sign-warm", "sign", fmt.Sprint(e.cfg.warm))
	for i := 0; i < runs; i++ {
		for _, apdus := range []int{1, 2} {
			if r := floor[apdus]; r.err == nil {
				ss, err := e.floorRun(apdus)
				r.samples, r.err = append(r.samples, ss...), err
				floor[apdus] = r
			}
		}
		each("warm", 1, warm)
	}
	each("login", runs, drv("login", "login"))
	each("load", runs, drv("load", "load"))
	each("relist", min(runs, 2), func(m module) ([]sample, error) {
		s, err := e.reinsertOnce(m)
		return []sample{s}, err
	})
	// Polling runs once per module (it takes polls x gap); the polls are summed.
	for _, m := range mods {
		var poll, first result
		ps, err := e.driver(m.Path, "poll", fmt.Sprint(e.cfg.polls), fmt.Sprint(e.cfg.pollGap.Milliseconds()))
		if err != nil {
			poll.err, first.err = err, err
		} else {
			first.samples = pick(ps, "poll-first")
			each := pick(ps, "poll")
			total := sum(each)
			total.Wall, total.CPU = median(each).Wall, median(each).CPU // time per poll
			poll.samples = []sample{total}
		}
		res[m.Name]["poll"], res[m.Name]["poll-first"] = poll, first
	}
	if full {
		each("rss", runs, func(m module) ([]sample, error) { return e.rss(m) })
		concs := map[string]*concRuns{}
		for _, m := range mods {
			concs[m.Name] = &concRuns{}
		}
		for i := 0; i < min(runs, 3); i++ {
			for _, m := range mods {
				if err := e.conc(m, concs[m.Name]); err != nil {
					concs[m.Name].err = err
				}
			}
		}
		for _, m := range mods {
			res[m.Name]["conc"] = concs[m.Name].result()
		}
	}
	return res
}

// rss measures `pkcs11-tool -L` under /usr/bin/time -v (peak RSS, "Maximum
// resident set size"); the wall-clock figures come from the same runs.
func (e *env) rss(m module) ([]sample, error) {
	s, out, err := e.proc(nil, "/usr/bin/time", "-v", "pkcs11-tool", "--module", m.Path, "-L")
	if err != nil {
		return nil, err
	}
	s.RSSKB = 0
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "Maximum resident set size (kbytes):"); ok {
			fmt.Sscan(strings.TrimSpace(v), &s.RSSKB)
		}
	}
	if s.RSSKB == 0 {
		return nil, errors.New("/usr/bin/time -v gave no maximum resident set size")
	}
	return []sample{s}, nil
}

// reinsertOnce lists, pulls the card out, puts it back and lists again in one
// process; it returns the second listing.
func (e *env) reinsertOnce(m module) (sample, error) {
	cmd := exec.Command(e.drv, m.Path, "reinsert")
	cmd.Env = e.childEnv()
	in, err := cmd.StdinPipe()
	if err != nil {
		return sample{}, err
	}
	outp, err := cmd.StdoutPipe()
	if err != nil {
		return sample{}, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return sample{}, err
	}
	var out strings.Builder
	sc := bufio.NewScanner(outp)
	ready := false
	for !ready && sc.Scan() {
		out.WriteString(sc.Text() + "\n")
		ready = sc.Text() == "READY"
	}
	fail := func(err error) (sample, error) {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return sample{}, err
	}
	if !ready {
		return fail(fmt.Errorf("p11drv reinsert: no READY: %s", tail(out.String())))
	}
	if err := e.card.Pull(); err != nil {
		return fail(err)
	}
	if err := e.pc.WaitCard(0, false, 10*time.Second); err != nil {
		return fail(err)
	}
	if err := e.card.Insert(); err != nil {
		return fail(err)
	}
	if err := e.pc.WaitCard(0, true, 10*time.Second); err != nil {
		return fail(err)
	}
	io.WriteString(in, "go\n")
	in.Close()
	rest, _ := io.ReadAll(outp)
	out.Write(rest)
	if err := cmd.Wait(); err != nil {
		return sample{}, fmt.Errorf("p11drv reinsert: %w: %s", err, tail(out.String()))
	}
	ps, err := e.phases(out.String())
	if err != nil {
		return sample{}, err
	}
	rl := pick(ps, "relist")
	if len(rl) != 1 {
		return sample{}, errors.New("p11drv reinsert: no relist phase")
	}
	return rl[0], nil
}

// concRuns gathers the runs of the concurrency job of one module.
type concRuns struct {
	one, many         []sample
	oneIdle, manyIdle []sample // Wall: card idle between transactions; CPU: inside them
	errors            int
	err               error
}

// conc: T threads x N signatures against one thread doing all T*N, same process.
func (e *env) conc(m module, c *concRuns) error {
	if c.err != nil {
		return c.err
	}
	_, out, err := e.proc(nil, e.drv, m.Path, "conc", fmt.Sprint(e.cfg.threads), fmt.Sprint(e.cfg.perThread), fmt.Sprint(e.cfg.concRounds))
	if err != nil {
		return err
	}
	ps, err := e.phases(out)
	if err != nil {
		return err
	}
	c.one = append(c.one, pick(ps, "conc-1")...)
	c.many = append(c.many, pick(ps, "conc-t")...)
	for _, p := range ps {
		inside, idle, err := e.txTimes(p.Log0, p.Log1)
		if err != nil {
			return err
		}
		switch p.Name {
		case "conc-1":
			c.oneIdle = append(c.oneIdle, sample{Wall: idle, CPU: inside})
		case "conc-t":
			c.manyIdle = append(c.manyIdle, sample{Wall: idle, CPU: inside})
		}
	}
	for _, line := range strings.Split(out, "\n") {
		var name string
		var n int
		if _, err := fmt.Sscanf(line, "errors %s %d", &name, &n); err == nil {
			c.errors += n
		}
	}
	return nil
}

func (c *concRuns) result() result {
	if c.err != nil || len(c.one) == 0 || len(c.many) == 0 {
		return result{err: c.err}
	}
	o, t := median(c.one), median(c.many)
	oi, ti := median(c.oneIdle), median(c.manyIdle)
	return result{samples: c.many, extra: map[string]float64{
		"one_idle_ms": ms(oi.Wall), "many_idle_ms": ms(ti.Wall), "one_inside_ms": ms(oi.CPU), "many_inside_ms": ms(ti.CPU),
		"one_ms": ms(o.Wall), "many_ms": ms(t.Wall), "throughput": float64(o.Wall) / float64(t.Wall),
		"errors": float64(c.errors), "one_apdus": float64(o.APDUs), "many_apdus": float64(t.APDUs),
	}}
}

// floorRun runs the bare PC/SC client once: the time of each signature made of
// SIGN alone (apdus 1) or SELECT + SIGN (apdus 2).
func (e *env) floorRun(apdus int) ([]sample, error) {
	args := []string{"-n", fmt.Sprint(e.cfg.warm), "-reader", harness.ReaderName(0)}
	if apdus == 2 {
		args = append(args, "-select")
	}
	_, o, err := e.proc(nil, e.floor, args...)
	if err != nil {
		return nil, err
	}
	var out []sample
	for _, line := range strings.Split(o, "\n") {
		var ns int64
		if _, err := fmt.Sscanf(line, "sig %d", &ns); err == nil {
			out = append(out, sample{APDUs: apdus, Wall: time.Duration(ns)})
		}
	}
	if len(out) != e.cfg.warm {
		return nil, fmt.Errorf("floor: %d signatures of %d: %s", len(out), e.cfg.warm, tail(o))
	}
	return out, nil
}

// trace records the APDUs of our jobs once (for the report's appendix).
func (e *env) trace(m module) []traceEntry {
	var out []traceEntry
	jobs := []struct {
		label string
		args  []string
	}{
		{"pkcs11-tool -L", []string{"-L"}},
		{"pkcs11-tool --login --sign (cold)", []string{"--login", "--pin", e.pin, "--sign", "-m", "SHA256-RSA-PKCS",
			"-i", filepath.Join(e.tmp, "data"), "-o", filepath.Join(e.tmp, "sig")}},
		{"pkcs11-tool -O", []string{"-O"}},
	}
	for _, j := range jobs {
		if _, _, err := e.proc(nil, "pkcs11-tool", append([]string{"--module", m.Path}, j.args...)...); err != nil {
			continue
		}
		out = append(out, traceEntry{module: m.Name, job: j.label, apdus: e.lastAPDUs})
	}
	return out
}

type traceEntry struct {
	module, job string
	apdus       []string
}

// loadAvg is the first line of /proc/loadavg (the 1, 5 and 15 minute averages).
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
