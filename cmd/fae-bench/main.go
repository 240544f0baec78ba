// Command fae-bench is a load generator for the memcached text protocol:
// it runs a workload against one or more targets in turns and prints each
// target's median-of-rounds throughput and latency, with ratios to the
// first target. The work is done by package bench; this is its CLI.
//
// Usage:
//
//	fae-bench [run] --target name=host:port ... [workload flags] (name=unix:PATH: a unix socket)
//	fae-bench run --scenarios bench/scenarios.yaml --scenario S1 --target ...
//	fae-bench idle --target host:port --pid PID --conns 10000
//	fae-bench chunked --target host:port --pid PID --size 1048576 --chunk 128
//	fae-bench partial --target host:port --pid PID --conns 300 --size 1048576
//	fae-bench relay --listen host:port --upstream host:port --delay 100us
//	fae-bench plot --json run.json --out latency.png
//	fae-bench overview [--ratio a/b ...] S1.json S2.json ...
//	fae-bench scenarios --scenarios bench/scenarios.yaml
//	fae-bench freeport
//	fae-bench waitport --addr host:port
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/fae-sidecar/fae/bench"
	"github.com/fae-sidecar/fae/bench/benchplot"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "fae-bench:", err)
		os.Exit(2)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := "run"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "run":
		return runBench(ctx, args, stdout, stderr)
	case "idle":
		return runIdle(ctx, args, stdout, stderr)
	case "chunked":
		return runChunked(ctx, args, stdout, stderr)
	case "partial":
		return runPartial(ctx, args, stdout, stderr)
	case "relay":
		return runRelay(ctx, args, stdout, stderr)
	case "plot":
		return runPlot(args, stderr)
	case "scenarios":
		return runScenarios(args, stdout, stderr)
	case "overview":
		return runOverview(args, stdout, stderr)
	case "freeport":
		return runFreePort(stdout)
	case "waitport":
		return runWaitPort(ctx, args, stderr)
	}
	return fmt.Errorf("unknown command %q: want run, idle, chunked, partial, relay, plot, overview, scenarios, freeport or waitport", cmd)
}

// targetList is a repeatable --target flag.
type targetList []bench.Target

func (l *targetList) String() string {
	var s []string
	for _, t := range *l {
		s = append(s, t.Name+"="+t.Addr)
	}
	return strings.Join(s, ",")
}

func (l *targetList) Set(s string) error {
	t, err := bench.ParseTarget(s)
	if err != nil {
		return err
	}
	for _, o := range *l {
		if o.Name == t.Name {
			return fmt.Errorf("target name %q given twice", t.Name)
		}
	}
	*l = append(*l, t)
	return nil
}

// procList is a repeatable --pid flag.
type procList []bench.Proc

func (l *procList) String() string {
	var s []string
	for _, p := range *l {
		s = append(s, fmt.Sprintf("%s=%d", p.Name, p.PID))
	}
	return strings.Join(s, ",")
}

func (l *procList) Set(s string) error {
	p, err := bench.ParseProc(s)
	if err != nil {
		return err
	}
	*l = append(*l, p)
	return nil
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fae-bench run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fw := bench.DefaultWorkload()
	var targets targetList
	fs.Var(&targets, "target", "`name=host:port` (or name=unix:PATH, a unix socket) to measure; repeat for several, run in turns (ratios are to the first)")
	fs.IntVar(&fw.Conns, "conns", fw.Conns, "client connections (one goroutine each)")
	fs.IntVar(&fw.Pipeline, "pipeline", fw.Pipeline, "requests written per connection before reading their replies")
	fs.DurationVar(&fw.Duration, "duration", fw.Duration, "measured time of each round")
	fs.Int64Var(&fw.Requests, "requests", fw.Requests, "end each round after this many requests instead of --duration (0: use --duration)")
	fs.DurationVar(&fw.Warmup, "warmup", fw.Warmup, "load before each round's measurement, not counted")
	fs.IntVar(&fw.Keys, "keys", fw.Keys, "key space: ids 0..keys-1")
	fs.Float64Var(&fw.Zipf, "zipf", fw.Zipf, "Zipf skew s of key popularity (0: uniform; 0<s<1 or s>1)")
	fs.Var(&fw.ValueSize, "value-size", "set value `bytes`: N, or A-B drawn uniformly")
	fs.Float64Var(&fw.GetRatio, "get-ratio", fw.GetRatio, "share of requests that are gets (the rest are sets)")
	fs.IntVar(&fw.MultiGet, "multiget", fw.MultiGet, "keys per get")
	fs.StringVar(&fw.KeyPrefix, "key-prefix", fw.KeyPrefix, "key prefix (key = prefix + decimal id)")
	fs.BoolVar(&fw.Prefill, "prefill", fw.Prefill, "set every key once per target before its first round")
	fs.IntVar(&fw.PerConn, "per-conn", fw.PerConn, "close each connection after this many requests and open a new one, the connect counted in the latency (0: long-lived)")
	fs.DurationVar(&fw.Timeout, "timeout", fw.Timeout, "bound on one batch's round trip (past it: I/O error, redial)")
	fs.Uint64Var(&fw.Seed, "seed", fw.Seed, "random seed (same seed: same request stream per round for every target)")
	rounds := fs.Int("rounds", 3, "rounds; each runs every target once, in turn")
	jsonOut := fs.String("json", "", "write every round and the summary as JSON to `file`")
	mdOut := fs.String("markdown", "", "also write the summary table (Markdown) to `file`")
	scenario := fs.String("scenario", "", "take the workload from this scenario of --scenarios (flags given override it)")
	scenarios := fs.String("scenarios", "bench/scenarios.yaml", "scenarios YAML `file`")
	cpuProfile := fs.String("cpuprofile", "", "write fae-bench's own CPU profile to `file` (to check the load generator is not the bottleneck)")
	upstream := fs.String("count-upstream", "", "memcached `host:port` behind the targets: count its gets per client get key each round")
	var procs procList
	fs.Var(&procs, "pid", "`name=PID` of a process whose CPU time and read/write syscalls each round measures, per request: "+
		"a target's server (named after the target) or another process on the path; repeat for several")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	w := fw
	if *scenario != "" {
		all, err := bench.LoadScenarios(*scenarios)
		if err != nil {
			return err
		}
		sc, ok := all[*scenario]
		if !ok {
			return fmt.Errorf("scenario %q is not in %s (it has %s)", *scenario, *scenarios, strings.Join(bench.ScenarioNames(all), ", "))
		}
		w = sc.Workload
		overrideSetFlags(fs, &w, &fw)
	}
	if *upstream != "" {
		if _, _, err := net.SplitHostPort(*upstream); err != nil {
			return fmt.Errorf("count-upstream: %q is not host:port", *upstream)
		}
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	rep, err := bench.Run(ctx, bench.Config{Scenario: *scenario, Workload: w, Targets: targets, Rounds: *rounds, Upstream: *upstream, Procs: procs}, stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\n%s\n\n", describe(rep))
	if err := bench.WriteTable(stdout, rep.Summary); err != nil {
		return err
	}
	if *mdOut != "" {
		f, err := os.Create(*mdOut)
		if err != nil {
			return err
		}
		err = bench.WriteTable(f, rep.Summary)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	if *jsonOut != "" {
		return writeJSON(*jsonOut, rep)
	}
	return nil
}

// overrideSetFlags copies into w the workload flags the user gave, so they
// win over the scenario.
func overrideSetFlags(fs *flag.FlagSet, w, flags *bench.Workload) {
	copyField := map[string]func(){
		"conns":      func() { w.Conns = flags.Conns },
		"pipeline":   func() { w.Pipeline = flags.Pipeline },
		"duration":   func() { w.Duration = flags.Duration },
		"requests":   func() { w.Requests = flags.Requests },
		"warmup":     func() { w.Warmup = flags.Warmup },
		"keys":       func() { w.Keys = flags.Keys },
		"zipf":       func() { w.Zipf = flags.Zipf },
		"value-size": func() { w.ValueSize = flags.ValueSize },
		"get-ratio":  func() { w.GetRatio = flags.GetRatio },
		"multiget":   func() { w.MultiGet = flags.MultiGet },
		"key-prefix": func() { w.KeyPrefix = flags.KeyPrefix },
		"prefill":    func() { w.Prefill = flags.Prefill },
		"per-conn":   func() { w.PerConn = flags.PerConn },
		"timeout":    func() { w.Timeout = flags.Timeout },
		"seed":       func() { w.Seed = flags.Seed },
	}
	fs.Visit(func(f *flag.Flag) {
		if c, ok := copyField[f.Name]; ok {
			c()
		}
	})
}

// describe says in one line what was run.
func describe(rep *bench.Report) string {
	w := rep.Workload
	var b strings.Builder
	if rep.Scenario != "" {
		fmt.Fprintf(&b, "%s: ", rep.Scenario)
	}
	fmt.Fprintf(&b, "%d conns, pipeline %d, ", w.Conns, w.Pipeline)
	if w.Requests > 0 {
		fmt.Fprintf(&b, "%d requests", w.Requests)
	} else {
		fmt.Fprintf(&b, "%v", w.Duration)
	}
	fmt.Fprintf(&b, " x %d rounds (median shown), %d keys", rep.Rounds, w.Keys)
	if w.Zipf > 0 {
		fmt.Fprintf(&b, " zipf %v", w.Zipf)
	}
	fmt.Fprintf(&b, ", %.0f%% gets of %d key(s), %s-byte values", 100*w.GetRatio, w.MultiGet, w.ValueSize)
	if w.PerConn > 0 {
		fmt.Fprintf(&b, ", a new connection every %d requests", w.PerConn)
	}
	return b.String()
}

func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

func runIdle(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fae-bench idle", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var sf serverFlags
	sf.register(fs)
	conns := fs.Int("conns", 10000, "idle connections to open")
	settle := fs.Duration("settle", 2*time.Second, "wait after opening (and after closing) before reading RSS")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := sf.check(); err != nil {
		return err
	}
	res, err := bench.HoldIdle(ctx, sf.targets[0], *conns, sf.pid, *settle)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %d/%d idle conns: RSS %d KiB before, %d KiB open (+%d KiB, %.0f bytes/conn), %d KiB after closing\n",
		res.Target, res.Opened, res.Conns, res.RSSBeforeKiB, res.RSSOpenKiB, res.RSSOpenKiB-res.RSSBeforeKiB,
		res.BytesPerConn, res.RSSClosedKiB)
	if res.FirstError != "" {
		fmt.Fprintf(stdout, "%s: first failed connection: %s\n", res.Target, res.FirstError)
	}
	if sf.json != "" {
		return writeJSON(sf.json, res)
	}
	return nil
}

// serverFlags are the flags of the commands that measure one server
// process: its address and pid, and where to write the result.
type serverFlags struct {
	targets targetList
	pid     int
	json    string
}

func (f *serverFlags) register(fs *flag.FlagSet) {
	fs.Var(&f.targets, "target", "`name=host:port` of the server")
	fs.IntVar(&f.pid, "pid", 0, "process id of the server, whose CPU time and VmRSS are read")
	fs.StringVar(&f.json, "json", "", "write the result as JSON to `file`")
}

func (f *serverFlags) check() error {
	if len(f.targets) != 1 {
		return errors.New("target: give exactly one --target")
	}
	if f.pid <= 0 {
		return errors.New("pid: give the server's process id with --pid")
	}
	return nil
}

func runChunked(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fae-bench chunked", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var sf serverFlags
	sf.register(fs)
	sets := fs.Int("sets", 3, "sets to send, one after the other")
	size := fs.Int("size", 1<<20, "value `bytes` of each set")
	chunk := fs.Int("chunk", 128, "bytes per write")
	gap := fs.Duration("gap", 50*time.Microsecond, "pause between two writes (0: none)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := sf.check(); err != nil {
		return err
	}
	if *sets < 1 || *size < 1 || *chunk < 1 {
		return errors.New("sets, size and chunk must be at least 1")
	}
	res, err := bench.SendChunked(ctx, sf.targets[0], sf.pid, *sets, *size, *chunk, *gap)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %d sets of %d bytes in %d-byte writes: server CPU %.2fs (%.3fs per set), wall %.2fs\n",
		res.Target, res.Sets, res.Size, res.Chunk, res.CPU.Seconds(), res.CPU.Seconds()/float64(res.Sets), res.Wall.Seconds())
	if sf.json != "" {
		return writeJSON(sf.json, res)
	}
	return nil
}

func runPartial(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fae-bench partial", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var sf serverFlags
	sf.register(fs)
	conns := fs.Int("conns", 300, "connections, each holding a set whose last byte it never sends")
	size := fs.Int("size", 1<<20, "value `bytes` of each set")
	chunk := fs.Int("chunk", 16<<10, "bytes per write")
	settle := fs.Duration("settle", 2*time.Second, "wait after sending (and after closing) before reading RSS")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := sf.check(); err != nil {
		return err
	}
	if *conns < 1 || *size < 1 || *chunk < 1 {
		return errors.New("conns, size and chunk must be at least 1")
	}
	res, err := bench.HoldPartial(ctx, sf.targets[0], sf.pid, *conns, *size, *chunk, *settle)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %d/%d conns each holding a %d-byte set but its last byte (%d MiB sent, %d refused): RSS %d MiB before, %d MiB held (+%.2fx sent), %d MiB after closing; server CPU %.2fs; version answered in %v median, %v max (%d probes) while they sent, in %v once they held\n",
		res.Target, res.Opened, res.Conns, res.Size, res.Sent>>20, res.Refused,
		res.RSSBeforeKiB>>10, res.RSSHeldKiB>>10, float64(res.RSSHeldKiB-res.RSSBeforeKiB)*1024/float64(max(res.Sent, 1)),
		res.RSSClosedKiB>>10, res.CPU.Seconds(), res.ProbeMedian.Round(time.Microsecond), res.ProbeMax.Round(time.Microsecond), res.Probes, res.ProbeHeld.Round(time.Microsecond))
	if res.FirstReply != "" {
		fmt.Fprintf(stdout, "%s: a refused connection was answered %q\n", res.Target, res.FirstReply)
	}
	if res.FirstError != "" {
		fmt.Fprintf(stdout, "%s: first error: %s\n", res.Target, res.FirstError)
	}
	if sf.json != "" {
		return writeJSON(sf.json, res)
	}
	return nil
}

// readReport reads a report written by fae-bench run --json.
func readReport(path string) (*bench.Report, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rep bench.Report
	if err := json.Unmarshal(data, &rep); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &rep, nil
}

// runOverview prints one Markdown row per report file (scenario).
func runOverview(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fae-bench overview", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var ratios [][2]string
	fs.Func("ratio", "`a/b`: compare target a with target b (req/s and p99); repeat for several (default: the first two targets)", func(s string) error {
		a, b, ok := strings.Cut(s, "/")
		if !ok || a == "" || b == "" {
			return fmt.Errorf("ratio %q: want a/b, two target names", s)
		}
		ratios = append(ratios, [2]string{a, b})
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("overview: give report files written by fae-bench run --json")
	}
	var reps []*bench.Report
	for _, a := range fs.Args() {
		rep, err := readReport(a)
		if err != nil {
			return err
		}
		reps = append(reps, rep)
	}
	return bench.WriteOverview(stdout, reps, ratios)
}

func runPlot(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("fae-bench plot", flag.ContinueOnError)
	fs.SetOutput(stderr)
	in := fs.String("json", "", "report `file` written by fae-bench run --json")
	out := fs.String("out", "", "image `file` (.png, .svg or .pdf)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *in == "" || *out == "" {
		return errors.New("plot: give --json and --out")
	}
	rep, err := readReport(*in)
	if err != nil {
		return err
	}
	return benchplot.Write(rep, *out)
}

// runScenarios lists a scenarios file, one per line: name, faed_config,
// faed_l1_config, upstream_delay ("-" for none), unix ("unix" or "-") and
// description, tab-separated, for scripts.
func runScenarios(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fae-bench scenarios", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("scenarios", "bench/scenarios.yaml", "scenarios YAML `file`")
	if err := fs.Parse(args); err != nil {
		return err
	}
	all, err := bench.LoadScenarios(*file)
	if err != nil {
		return err
	}
	for _, name := range bench.ScenarioNames(all) {
		s := all[name]
		orDash := func(v string) string {
			if v == "" {
				return "-"
			}
			return v
		}
		delay := "-"
		if s.UpstreamDelay > 0 {
			delay = s.UpstreamDelay.String()
		}
		unix := "-"
		if s.Unix {
			unix = "unix"
		}
		fmt.Fprintf(stdout, "%s\t%s\t%s\t%s\t%s\t%s\n", name, orDash(s.FaedConfig), orDash(s.FaedL1Config), delay, unix, s.Description)
	}
	return nil
}

// runFreePort prints a loopback address whose port the kernel just gave
// out and that is free again (for scripts; another process may take it).
func runFreePort(stdout io.Writer) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, addr)
	return err
}

// runWaitPort polls an address until it accepts a connection.
func runWaitPort(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("fae-bench waitport", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "", "`host:port` to wait for")
	timeout := fs.Duration("timeout", 15*time.Second, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	delay := 5 * time.Millisecond
	var d net.Dialer
	for {
		c, err := d.DialContext(ctx, "tcp", *addr)
		if err == nil {
			return c.Close()
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("waitport %s: %w (last error: %v)", *addr, ctx.Err(), err)
		case <-t.C:
		}
		delay = min(2*delay, 200*time.Millisecond)
	}
}
