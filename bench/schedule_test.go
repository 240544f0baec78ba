package bench

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestSchedule(t *testing.T) {
	tests := []struct {
		name     string
		targets  int
		rounds   int
		wantSeq  string // target letters in turn order
		wantLast Turn
	}{
		{name: "two targets three rounds", targets: 2, rounds: 3, wantSeq: "ABABAB", wantLast: Turn{Round: 3, Target: 1}},
		{name: "three targets two rounds", targets: 3, rounds: 2, wantSeq: "ABCABC", wantLast: Turn{Round: 2, Target: 2}},
		{name: "one target", targets: 1, rounds: 4, wantSeq: "AAAA", wantLast: Turn{Round: 4, Target: 0}},
		{name: "no rounds", targets: 2, rounds: 0, wantSeq: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			turns := Schedule(tt.targets, tt.rounds)
			var seq strings.Builder
			for i, tu := range turns {
				seq.WriteByte(byte('A' + tu.Target))
				if want := 1 + i/tt.targets; tu.Round != want {
					t.Errorf("turn %d is in round %d, want %d", i, tu.Round, want)
				}
			}
			if seq.String() != tt.wantSeq {
				t.Errorf("order %q, want %q", seq.String(), tt.wantSeq)
			}
			if len(turns) > 0 && turns[len(turns)-1] != tt.wantLast {
				t.Errorf("last turn %+v, want %+v", turns[len(turns)-1], tt.wantLast)
			}
		})
	}
}

func TestRunTurns(t *testing.T) {
	names := []string{"A", "B"}
	var ran, reported []string
	fn := func(_ context.Context, tu Turn) (*Result, error) {
		ran = append(ran, names[tu.Target])
		return &Result{Target: names[tu.Target], Round: tu.Round}, nil
	}
	results, err := RunTurns(context.Background(), Schedule(2, 2), fn, func(r *Result) { reported = append(reported, r.Target) })
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ran, ""); got != "ABAB" {
		t.Errorf("ran %q, want ABAB", got)
	}
	if got := strings.Join(reported, ""); got != "ABAB" {
		t.Errorf("reported %q, want ABAB", got)
	}
	if len(results) != 4 || results[3].Round != 2 || results[3].Target != "B" {
		t.Errorf("results %+v", results)
	}
}

func TestRunTurnsStops(t *testing.T) {
	boom := errors.New("boom")
	t.Run("at the first error", func(t *testing.T) {
		calls := 0
		fn := func(_ context.Context, tu Turn) (*Result, error) {
			calls++
			if tu.Round == 2 {
				return nil, boom
			}
			return &Result{}, nil
		}
		results, err := RunTurns(context.Background(), Schedule(2, 3), fn, nil)
		if !errors.Is(err, boom) || calls != 3 || len(results) != 2 {
			t.Errorf("err %v after %d calls, %d results; want boom after 3 calls, 2 results", err, calls, len(results))
		}
	})
	t.Run("when the context is done", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		calls := 0
		fn := func(context.Context, Turn) (*Result, error) {
			calls++
			cancel()
			return &Result{}, nil
		}
		_, err := RunTurns(ctx, Schedule(2, 3), fn, nil)
		if !errors.Is(err, context.Canceled) || calls != 1 {
			t.Errorf("err %v after %d calls; want context.Canceled after 1", err, calls)
		}
	})
}

func TestMedian(t *testing.T) {
	tests := []struct {
		name string
		in   []float64
		want float64
	}{
		{name: "empty", in: nil, want: 0},
		{name: "one", in: []float64{5}, want: 5},
		{name: "odd unsorted", in: []float64{9, 1, 5}, want: 5},
		{name: "even", in: []float64{4, 1, 3, 2}, want: 2.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := median(tt.in); got != tt.want {
				t.Errorf("median(%v) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

// result builds a Result with the given throughput and p99.
func result(target string, round int, rps, p99 float64, up *Upstream) *Result {
	return &Result{
		Target: target, Round: round, ReqPerSec: rps, KeysPerSec: rps,
		Counts:      Counts{Requests: 100, Gets: 90, Sets: 10, GetKeys: 90, Hits: 81, Misses: 9},
		Latency:     Latency{P50: p99 / 4, P90: p99 / 2, P99: p99, P999: 2 * p99, Max: 3 * p99},
		Percentiles: []Point{{Percentile: 50, Micros: p99 / 4}, {Percentile: 99, Micros: p99}},
		Upstream:    up,
	}
}

func TestSummarize(t *testing.T) {
	targets := []Target{{Name: "faed"}, {Name: "nutcracker"}}
	results := []*Result{
		result("faed", 1, 100, 10, &Upstream{PerClientGet: 0.1}),
		result("nutcracker", 1, 50, 40, &Upstream{PerClientGet: 1}),
		result("faed", 2, 300, 30, &Upstream{PerClientGet: 0.3}),
		result("nutcracker", 2, 80, 20, &Upstream{PerClientGet: 1}),
		result("faed", 3, 200, 20, &Upstream{PerClientGet: 0.2}),
		result("nutcracker", 3, 60, 30, &Upstream{PerClientGet: 1}),
	}
	sums := Summarize(targets, results)
	if len(sums) != 2 {
		t.Fatalf("%d summaries, want 2", len(sums))
	}
	f, n := sums[0], sums[1]
	if f.ReqPerSec != 200 || f.Latency.P99 != 20 || f.Latency.Max != 60 || f.Rounds != 3 {
		t.Errorf("faed: %+v; want median 200 req/s, p99 20, max 60, 3 rounds", f)
	}
	if n.ReqPerSec != 60 || n.Latency.P99 != 30 {
		t.Errorf("nutcracker: %v req/s p99 %v; want 60 and 30", n.ReqPerSec, n.Latency.P99)
	}
	if f.ThroughputRatio != 1 || n.ThroughputRatio != 0.3 || n.P99Ratio != 1.5 {
		t.Errorf("ratios: faed %v, nutcracker %v and p99 %v; want 1, 0.3 and 1.5", f.ThroughputRatio, n.ThroughputRatio, n.P99Ratio)
	}
	if f.Counts.Requests != 300 || f.HitRatio != 0.9 {
		t.Errorf("faed counts %+v hit ratio %v; want 300 requests, 0.9", f.Counts, f.HitRatio)
	}
	if f.UpstreamPerClientGet != 0.2 {
		t.Errorf("faed upstream per client get %v, want 0.2", f.UpstreamPerClientGet)
	}
	if len(f.Percentiles) != 2 || f.Percentiles[1] != (Point{Percentile: 99, Micros: 20}) {
		t.Errorf("faed percentiles %+v, want the point-by-point median", f.Percentiles)
	}
}

func TestSummarizeProcs(t *testing.T) {
	targets := []Target{{Name: "faed"}}
	var results []*Result
	for i, cpu := range []float64{30, 10, 20} {
		r := result("faed", i+1, 100, 10, nil)
		r.Procs = []ProcUse{
			procUse(Proc{Name: "faed", PID: 1}, ProcSample{}, ProcSample{CPU: time.Duration(cpu) * time.Millisecond, Syscr: uint64(200 + i), Syscw: 100}, 1000),
			procUse(Proc{Name: "relay", PID: 2}, ProcSample{CPU: time.Second}, ProcSample{CPU: time.Second + 5*time.Millisecond}, 1000),
		}
		results = append(results, r)
	}
	got := Summarize(targets, results)[0].Procs
	// faed: 20ms over 1000 requests is 20µs each; syscr 200, 201, 202.
	want := []ProcSummary{{Name: "faed", CPUPerReq: 20, ReadsPerReq: 0.201, WritesPerReq: 0.1}, {Name: "relay", CPUPerReq: 5}}
	if len(got) != 2 || math.Abs(got[0].CPUPerReq-20) > 1e-9 || got[0].ReadsPerReq != 0.201 || got[0].WritesPerReq != 0.1 ||
		got[1].Name != "relay" || math.Abs(got[1].CPUPerReq-5) > 1e-9 {
		t.Errorf("procs %+v, want %+v", got, want)
	}
}

func TestWriteTable(t *testing.T) {
	sums := []Summary{
		{Target: "faed", ReqPerSec: 123456.4, KeysPerSec: 123456.4, Latency: Latency{P50: 5.123, P90: 55.55, P99: 120, P999: 900, Max: 12345},
			HitRatio: 0.999, ThroughputRatio: 1, P99Ratio: 1, UpstreamPerClientGet: 0.05},
		{Target: "memcached", ReqPerSec: 200000, KeysPerSec: 200000, Latency: Latency{P50: 4, P90: 40, P99: 60, P999: 300, Max: 5000},
			HitRatio: 1, Counts: Counts{Errors: 3}, ThroughputRatio: 1.62, P99Ratio: 0.5, UpstreamPerClientGet: -1},
	}
	var b strings.Builder
	if err := WriteTable(&b, sums); err != nil {
		t.Fatal(err)
	}
	want := `| target    |  req/s | keys/s | p50 µs | p90 µs | p99 µs | p99.9 µs | max µs | hit % | errors | req/s ratio | p99 ratio | upstream gets/client get |
| --------- | -----: | -----: | -----: | -----: | -----: | -------: | -----: | ----: | -----: | ----------: | --------: | -----------------------: |
| faed      | 123456 | 123456 |   5.12 |   55.5 |    120 |      900 |  12345 |  99.9 |      0 |       1.00x |     1.00x |                    0.050 |
| memcached | 200000 | 200000 |   4.00 |   40.0 |   60.0 |      300 |   5000 | 100.0 |      3 |       1.62x |     0.50x |                        - |
`
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}

	b.Reset()
	sums[0].UpstreamPerClientGet = -1
	if err := WriteTable(&b, sums); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "upstream") {
		t.Errorf("upstream column without upstream counts:\n%s", b.String())
	}
}

func TestWriteOverview(t *testing.T) {
	targets := []Target{{Name: "faed"}, {Name: "nutcracker"}}
	rep := func(name string, frps, nrps, fp99, np99 float64, up float64) *Report {
		return &Report{Scenario: name, Targets: targets, Summary: []Summary{
			{Target: "faed", ReqPerSec: frps, Latency: Latency{P99: fp99}, UpstreamPerClientGet: up, Counts: Counts{Errors: 1}},
			{Target: "nutcracker", ReqPerSec: nrps, Latency: Latency{P99: np99}, UpstreamPerClientGet: 1, Counts: Counts{Errors: 2}},
		}}
	}
	var b strings.Builder
	err := WriteOverview(&b, []*Report{rep("S1", 30000, 20000, 500, 1000, 1), rep("S5", 10000, 40000, 2000, 1000, -1)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := `| scenario | faed req/s | nutcracker req/s | faed p99 µs | nutcracker p99 µs | faed/nutcracker req/s | faed/nutcracker p99 | errors | faed upstream gets/client get |
| -------- | ---------: | ---------------: | ----------: | ----------------: | --------------------: | ------------------: | -----: | ----------------------------: |
| S1       |      30000 |            20000 |         500 |              1000 |                 1.50x |               0.50x |      3 |                         1.000 |
| S5       |      10000 |            40000 |        2000 |              1000 |                 0.25x |               2.00x |      3 |                             - |
`
	if b.String() != want {
		t.Errorf("overview:\n%s\nwant:\n%s", b.String(), want)
	}
}

// TestWriteOverviewTargetsAndRatios: targets are the union of the reports'
// (a report without one shows "-"), each with its own CPU per request, and
// the ratio columns are the pairs asked for.
func TestWriteOverviewTargetsAndRatios(t *testing.T) {
	own := func(name string, cpu float64) []ProcSummary {
		return []ProcSummary{{Name: name, CPUPerReq: cpu}, {Name: "relay", CPUPerReq: 9}}
	}
	s1 := &Report{Scenario: "S1", Targets: []Target{{Name: "faed"}, {Name: "nutcracker"}, {Name: "memcached"}}, Summary: []Summary{
		{Target: "faed", ReqPerSec: 30000, Latency: Latency{P99: 500}, UpstreamPerClientGet: 1, Procs: own("faed", 10)},
		{Target: "nutcracker", ReqPerSec: 20000, Latency: Latency{P99: 1000}, UpstreamPerClientGet: 1, Procs: own("nutcracker", 20)},
		{Target: "memcached", ReqPerSec: 40000, Latency: Latency{P99: 400}, UpstreamPerClientGet: 1, Procs: own("memcached", 5)},
	}}
	s6 := &Report{Scenario: "S6", Targets: []Target{{Name: "faed"}, {Name: "faed-l1"}, {Name: "nutcracker"}, {Name: "memcached"}}, Summary: []Summary{
		{Target: "faed", ReqPerSec: 11000, Latency: Latency{P99: 900}, UpstreamPerClientGet: 1, Procs: own("faed", 30)},
		{Target: "faed-l1", ReqPerSec: 26000, Latency: Latency{P99: 600}, UpstreamPerClientGet: 0.2, Procs: own("faed-l1", 15)},
		{Target: "nutcracker", ReqPerSec: 10000, Latency: Latency{P99: 1000}, UpstreamPerClientGet: 1},
		{Target: "memcached", ReqPerSec: 13000, Latency: Latency{P99: 1200}, UpstreamPerClientGet: 1, Procs: own("memcached", 5)},
	}}
	var b strings.Builder
	if err := WriteOverview(&b, []*Report{s1, s6}, [][2]string{{"faed", "nutcracker"}, {"faed-l1", "memcached"}}); err != nil {
		t.Fatal(err)
	}
	want := `| scenario | faed req/s | nutcracker req/s | memcached req/s | faed-l1 req/s | faed p99 µs | nutcracker p99 µs | memcached p99 µs | faed-l1 p99 µs | faed cpu µs/req | nutcracker cpu µs/req | memcached cpu µs/req | faed-l1 cpu µs/req | faed/nutcracker req/s | faed/nutcracker p99 | faed-l1/memcached req/s | faed-l1/memcached p99 | errors | faed upstream gets/client get |
| -------- | ---------: | ---------------: | --------------: | ------------: | ----------: | ----------------: | ---------------: | -------------: | --------------: | --------------------: | -------------------: | -----------------: | --------------------: | ------------------: | ----------------------: | --------------------: | -----: | ----------------------------: |
| S1       |      30000 |            20000 |           40000 |             - |         500 |              1000 |              400 |              - |            10.0 |                  20.0 |                  5.0 |                  - |                 1.50x |               0.50x |                       - |                     - |      0 |                         1.000 |
| S6       |      11000 |            10000 |           13000 |         26000 |         900 |              1000 |             1200 |            600 |            30.0 |                     - |                  5.0 |               15.0 |                 1.10x |               0.90x |                   2.00x |                 0.50x |      0 |                         1.000 |
`
	if b.String() != want {
		t.Errorf("overview:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestWriteTableProcs(t *testing.T) {
	sums := []Summary{
		{Target: "faed", ReqPerSec: 1000, UpstreamPerClientGet: -1, Procs: []ProcSummary{
			{Name: "faed", CPUPerReq: 12.34, ReadsPerReq: 1.5, WritesPerReq: 1.25}, {Name: "relay", CPUPerReq: 7}, {Name: "nutcracker", CPUPerReq: 0.1}}},
		{Target: "nutcracker", ReqPerSec: 900, UpstreamPerClientGet: -1, Procs: []ProcSummary{{Name: "relay", CPUPerReq: 8}}},
	}
	var b strings.Builder
	if err := WriteTable(&b, sums); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(b.String(), "\n")
	// Own columns for the target's own process; the relay's CPU for every
	// row; another target's process (nutcracker in faed's row) not shown.
	if !strings.HasSuffix(lines[0], "| cpu µs/req | reads/req | writes/req | relay cpu µs/req |") ||
		!strings.HasSuffix(lines[2], "|       12.3 |      1.50 |       1.25 |              7.0 |") ||
		!strings.HasSuffix(lines[3], "|          - |         - |          - |              8.0 |") {
		t.Errorf("table:\n%s", b.String())
	}
}
