package bench

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"slices"
	"time"
)

// Turn is one slot of a schedule: a round (from 1) and a target index.
type Turn struct {
	Round  int
	Target int
}

// Schedule returns the turns of rounds rounds over n targets, taken in
// turns: round 1 runs targets 0..n-1, then round 2 does again, and so on
// (A B A B ...). Why: on a small noisy machine a slow spell then hurts
// every target's median alike, instead of all rounds of one target.
func Schedule(n, rounds int) []Turn {
	turns := make([]Turn, 0, n*rounds)
	for r := 1; r <= rounds; r++ {
		for t := range n {
			turns = append(turns, Turn{Round: r, Target: t})
		}
	}
	return turns
}

// TurnFunc runs one turn.
type TurnFunc func(ctx context.Context, t Turn) (*Result, error)

// RunTurns runs fn for each turn in order, calling done (when not nil)
// after each, and returns the results in turn order. It stops at the
// first error.
func RunTurns(ctx context.Context, turns []Turn, fn TurnFunc, done func(*Result)) ([]*Result, error) {
	results := make([]*Result, 0, len(turns))
	for _, t := range turns {
		if err := ctx.Err(); err != nil {
			return results, err
		}
		r, err := fn(ctx, t)
		if err != nil {
			return results, fmt.Errorf("round %d, target %d: %w", t.Round, t.Target, err)
		}
		if done != nil {
			done(r)
		}
		results = append(results, r)
	}
	return results, nil
}

// Config is one benchmark run: a workload against targets in turns.
type Config struct {
	Scenario string // name, for the report; may be empty
	Workload Workload
	Targets  []Target
	Rounds   int
	// Upstream, when set, is the memcached behind the targets whose get
	// counters are read around each turn (see Upstream).
	Upstream string
	// Procs are processes whose CPU time and syscalls each turn measures
	// (see ProcUse).
	Procs []Proc
}

// Report is everything a run measured; it is what --json writes.
type Report struct {
	Scenario  string      `json:"scenario,omitempty"`
	Started   time.Time   `json:"started"`
	GoVersion string      `json:"go_version"`
	NumCPU    int         `json:"num_cpu"`
	Workload  Workload    `json:"workload"`
	Targets   []Target    `json:"targets"`
	Rounds    int         `json:"rounds"`
	Upstream  string      `json:"upstream,omitempty"`
	Procs     []Proc      `json:"procs,omitempty"`
	Prefill   []Prefilled `json:"prefill,omitempty"`
	Results   []*Result   `json:"results"` // in turn order
	Summary   []Summary   `json:"summary"` // per target, in target order
}

// Prefilled is one target's prefill.
type Prefilled struct {
	Target  string  `json:"target"`
	Keys    int     `json:"keys"`
	Failed  int64   `json:"failed"`
	Seconds float64 `json:"seconds"`
}

// Run prefills each target (when the workload says so), runs the turns,
// and summarizes. Progress lines go to log.
func Run(ctx context.Context, cfg Config, log io.Writer) (*Report, error) {
	if err := cfg.Workload.Validate(); err != nil {
		return nil, err
	}
	if len(cfg.Targets) == 0 {
		return nil, fmt.Errorf("target: give at least one --target name=host:port")
	}
	if cfg.Rounds < 1 {
		return nil, fmt.Errorf("rounds: %d: need at least 1", cfg.Rounds)
	}
	rep := &Report{
		Scenario: cfg.Scenario, Started: time.Now().UTC(), GoVersion: runtime.Version(), NumCPU: runtime.NumCPU(),
		Workload: cfg.Workload, Targets: cfg.Targets, Rounds: cfg.Rounds, Upstream: cfg.Upstream, Procs: cfg.Procs,
	}
	if cfg.Workload.Prefill {
		for _, t := range cfg.Targets {
			start := time.Now()
			failed, err := Prefill(ctx, t, cfg.Workload)
			if err != nil {
				return nil, err
			}
			p := Prefilled{Target: t.Name, Keys: cfg.Workload.Keys, Failed: failed, Seconds: time.Since(start).Seconds()}
			rep.Prefill = append(rep.Prefill, p)
			fmt.Fprintf(log, "prefill %s: %d keys in %.2fs, %d failed\n", t.Name, p.Keys, p.Seconds, p.Failed)
		}
	}
	turns := Schedule(len(cfg.Targets), cfg.Rounds)
	run := func(ctx context.Context, t Turn) (*Result, error) {
		return RunTurn(ctx, cfg.Targets[t.Target], cfg.Workload, TurnOptions{Round: t.Round, Upstream: cfg.Upstream, Procs: cfg.Procs})
	}
	progress := func(r *Result) {
		fmt.Fprintf(log, "round %d/%d %-12s %10.0f req/s  p50 %s  p99 %s  max %s µs  hit %.1f%%  errors %d",
			r.Round, cfg.Rounds, r.Target, r.ReqPerSec, micros(r.Latency.P50), micros(r.Latency.P99),
			micros(r.Latency.Max), 100*r.HitRatio, r.Errors)
		if r.Upstream != nil {
			fmt.Fprintf(log, "  upstream/client gets %.3f", r.Upstream.PerClientGet)
		}
		// The target's own process, and those named after no target (the
		// other targets' servers idle through this turn).
		for _, p := range r.Procs {
			switch {
			case p.Name == r.Target:
				fmt.Fprintf(log, "  cpu %.1f µs/req", p.CPUPerReq)
			case !slices.ContainsFunc(cfg.Targets, func(t Target) bool { return t.Name == p.Name }):
				fmt.Fprintf(log, "  %s cpu %.1f µs/req", p.Name, p.CPUPerReq)
			}
		}
		if r.Dials > 0 && cfg.Workload.PerConn > 0 {
			fmt.Fprintf(log, "  dials %d", r.Dials)
		}
		if r.ErrorSample != "" {
			fmt.Fprintf(log, "  first error: %s", r.ErrorSample)
		}
		fmt.Fprintln(log)
	}
	results, err := RunTurns(ctx, turns, run, progress)
	if err != nil {
		return nil, err
	}
	rep.Results = results
	rep.Summary = Summarize(cfg.Targets, results)
	return rep, nil
}
