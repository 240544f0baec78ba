package breaker

import (
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a settable Clock, safe for concurrent use.
type fakeClock struct{ d atomic.Int64 }

func (c *fakeClock) Now() time.Duration      { return time.Duration(c.d.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.d.Add(int64(d)) }

// testConfig is the example: min_requests 20, error_percent 50,
// sleep_window 1s, over hystrix's 10s window (1s buckets).
var testConfig = Config{MinRequests: 20, ErrorPercent: 50, SleepWindow: time.Second, Window: 10 * time.Second}

func newTestBreaker(cfg Config) (*Breaker, *fakeClock) {
	clk := &fakeClock{}
	return New(cfg, clk.Now), clk
}

// step advances the clock, then sends requests and checks the state.
type step struct {
	advance  time.Duration
	ok, fail int    // requests that must be let through (not as probes), reported succeeded / failed
	refused  int    // requests that must be refused
	probe    string // "ok" or "fail": the next request must be the probe, reported so
	want     State
}

func run(t *testing.T, b *Breaker, clk *fakeClock, steps []step) {
	t.Helper()
	for i, s := range steps {
		clk.Advance(s.advance)
		plain := func(success bool) {
			tk := b.Allow()
			if !tk.OK() || tk.Probe() {
				t.Fatalf("step %d: Allow = ok %v probe %v, want a plain request", i, tk.OK(), tk.Probe())
			}
			b.Done(tk, success)
		}
		for range s.ok {
			plain(true)
		}
		for range s.fail {
			plain(false)
		}
		for range s.refused {
			if tk := b.Allow(); tk.OK() {
				t.Fatalf("step %d: Allow let a request through (probe %v), want refused", i, tk.Probe())
			}
		}
		if s.probe != "" {
			tk := b.Allow()
			if !tk.OK() || !tk.Probe() {
				t.Fatalf("step %d: Allow = ok %v probe %v, want the probe", i, tk.OK(), tk.Probe())
			}
			b.Done(tk, s.probe == "ok")
		}
		if got := b.State(); got != s.want {
			t.Fatalf("step %d: state %v, want %v (stats %+v)", i, got, s.want, b.Stats())
		}
	}
}

func TestRules(t *testing.T) {
	trip := step{ok: 10, fail: 10, want: Open}
	tests := []struct {
		name  string
		cfg   Config
		steps []step
		stats Stats // checked when non-zero
	}{
		{name: "opens at the threshold", cfg: testConfig, steps: []step{trip}, stats: Stats{State: Open, Opens: 1, Requests: 20, Failures: 10}},
		{name: "stays closed just below the error percent", cfg: testConfig, steps: []step{{ok: 11, fail: 9, want: Closed}, {ok: 100, want: Closed}}},
		{name: "not below min_requests", cfg: testConfig, steps: []step{{fail: 19, want: Closed}, {fail: 1, want: Open}}},
		{name: "a success reaching min_requests opens", cfg: testConfig, steps: []step{{fail: 19, want: Closed}, {ok: 1, want: Open}}},
		{name: "refuses while open", cfg: testConfig, steps: []step{trip, {refused: 5, want: Open}, {advance: 999 * time.Millisecond, refused: 1, want: Open}},
			stats: Stats{State: Open, Opens: 1, Rejected: 6, Requests: 20, Failures: 10}},
		{name: "closes on probe success and clears the window", cfg: testConfig, steps: []step{trip, {advance: time.Second, probe: "ok", want: Closed}, {fail: 19, want: Closed}, {fail: 1, want: Open}},
			stats: Stats{State: Open, Opens: 2, Closes: 1, Probes: 1, Requests: 20, Failures: 20}},
		{name: "reopens on probe failure", cfg: testConfig, steps: []step{trip,
			{advance: time.Second, probe: "fail", want: Open},
			{advance: 999 * time.Millisecond, refused: 3, want: Open},
			{advance: time.Millisecond, probe: "ok", want: Closed}},
			stats: Stats{State: Closed, Opens: 2, Closes: 1, Probes: 2, Rejected: 3}},
		{name: "window rolls: outcomes older than the window leave it", cfg: testConfig, steps: []step{
			{fail: 15, want: Closed},
			{advance: 10 * time.Second, fail: 5, want: Closed}, // the 15 left with their bucket
			{advance: 9 * time.Second, fail: 14, want: Closed}, // 5 + 14 = 19 in the window
			{fail: 1, want: Open}}},
		{name: "window rolls: the oldest bucket still counts", cfg: testConfig, steps: []step{
			{fail: 10, want: Closed},
			{advance: 9*time.Second + 999*time.Millisecond, fail: 10, want: Open}}},
		{name: "window rolls: successes leave too", cfg: testConfig, steps: []step{
			{ok: 30, want: Closed},
			{advance: 5 * time.Second, fail: 20, ok: 9, want: Closed}, // 20 of 59 failed
			{advance: 5 * time.Second, fail: 1, want: Open}}},         // the 30 left: 21 of 30
		{name: "error_percent 100 needs every outcome failed", cfg: Config{MinRequests: 5, ErrorPercent: 100, SleepWindow: time.Second},
			steps: []step{{ok: 1, fail: 10, want: Closed}, {advance: 10 * time.Second, fail: 5, want: Open}}},
		{name: "defaults are hystrix's", cfg: Config{}, steps: []step{{fail: 19, want: Closed}, {fail: 1, want: Open},
			{advance: 4999 * time.Millisecond, refused: 1, want: Open}, {advance: time.Millisecond, probe: "ok", want: Closed}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, clk := newTestBreaker(tt.cfg)
			run(t, b, clk, tt.steps)
			if tt.stats != (Stats{}) {
				if got := b.Stats(); got != tt.stats {
					t.Errorf("stats %+v, want %+v", got, tt.stats)
				}
			}
		})
	}
}

func TestHalfOpen(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, b *Breaker, clk *fakeClock)
	}{
		{"one probe at a time", func(t *testing.T, b *Breaker, clk *fakeClock) {
			probe := b.Allow()
			if !probe.Probe() {
				t.Fatal("first request after the sleep is not the probe")
			}
			for range 3 {
				if tk := b.Allow(); tk.OK() {
					t.Fatalf("a second request got through while the probe is out (probe %v)", tk.Probe())
				}
			}
			clk.Advance(999 * time.Millisecond)
			if tk := b.Allow(); tk.OK() {
				t.Fatal("a request got through before the probe's deadline")
			}
			if got := b.State(); got != HalfOpen {
				t.Fatalf("state %v, want half-open", got)
			}
			b.Done(probe, true)
			if got := b.State(); got != Closed {
				t.Fatalf("state %v after the probe succeeded, want closed", got)
			}
			if tk := b.Allow(); !tk.OK() || tk.Probe() {
				t.Fatal("closed breaker refused a request")
			}
		}},
		{"a lost probe is replaced after sleep_window, and its late report changes nothing", func(t *testing.T, b *Breaker, clk *fakeClock) {
			lost := b.Allow()
			clk.Advance(time.Second)
			probe := b.Allow()
			if !probe.Probe() {
				t.Fatal("no new probe once the first one's deadline passed")
			}
			b.Done(lost, true)
			if got := b.State(); got != HalfOpen {
				t.Fatalf("state %v after the superseded probe reported, want half-open", got)
			}
			b.Done(probe, false)
			if got := b.State(); got != Open {
				t.Fatalf("state %v after the probe failed, want open", got)
			}
		}},
		{"a late report of a request sent before the breaker opened decides nothing", func(t *testing.T, b *Breaker, clk *fakeClock) {
			clk.Advance(time.Second)
			probe := b.Allow()
			b.Done(probe, false) // reopened
			b.Done(Ticket{ok: true}, true)
			if got := b.State(); got != Open {
				t.Fatalf("state %v, want open", got)
			}
		}},
		{"a refused ticket reports nothing", func(t *testing.T, b *Breaker, clk *fakeClock) {
			b.Allow() // the probe, never reported here
			tk := b.Allow()
			b.Done(tk, true)
			if got := b.State(); got != HalfOpen {
				t.Fatalf("state %v, want half-open", got)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, clk := newTestBreaker(testConfig)
			run(t, b, clk, []step{{ok: 10, fail: 10, want: Open}})
			clk.Advance(time.Second)
			tt.run(t, b, clk)
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"zero takes defaults", Config{}, true},
		{"issue example", testConfig, true},
		{"negative min_requests", Config{MinRequests: -1}, false},
		{"min_requests beyond a bucket's count", Config{MinRequests: maxCount + 1}, false},
		{"error_percent over 100", Config{ErrorPercent: 101}, false},
		{"negative error_percent", Config{ErrorPercent: -5}, false},
		{"negative sleep_window", Config{SleepWindow: -time.Second}, false},
		{"window shorter than its buckets", Config{Window: 5}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if (err == nil) != tt.ok {
				t.Fatalf("Validate() = %v, want ok %v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrConfig) {
				t.Fatalf("error %v does not wrap ErrConfig", err)
			}
		})
	}
}

func TestBucketSaturates(t *testing.T) {
	b, _ := newTestBreaker(Config{MinRequests: 1, ErrorPercent: 100})
	b.buckets[0].Store(maxCount) // epoch 0, a full bucket of successes
	b.Done(b.Allow(), false)
	if s := b.Stats(); s.Requests != maxCount || s.Failures != 0 || s.State != Closed {
		t.Fatalf("stats %+v after a report into a full bucket", s)
	}
}

// TestRefusing: Refusing says what Allow would answer, without taking the
// probe.
func TestRefusing(t *testing.T) {
	tests := []struct {
		name      string
		advance   time.Duration // after tripping the breaker
		takeProbe bool          // then Allow once: the probe
		later     time.Duration // then advance again
		want      bool
	}{
		{name: "open, sleeping", advance: 999 * time.Millisecond, want: true},
		{name: "open, sleep over", advance: time.Second, want: false},
		{name: "half-open, probe out", advance: time.Second, takeProbe: true, later: 999 * time.Millisecond, want: true},
		{name: "half-open, probe lost", advance: time.Second, takeProbe: true, later: time.Second, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, clk := newTestBreaker(testConfig)
			if b.Refusing() {
				t.Fatal("a closed breaker is refusing")
			}
			run(t, b, clk, []step{{ok: 10, fail: 10, want: Open}})
			clk.Advance(tt.advance)
			if tt.takeProbe {
				if !b.Allow().Probe() {
					t.Fatal("no probe after the sleep")
				}
			}
			clk.Advance(tt.later)
			if got := b.Refusing(); got != tt.want {
				t.Fatalf("Refusing = %v, want %v (state %v)", got, tt.want, b.State())
			}
			if got := !b.Allow().OK(); got != tt.want {
				t.Fatalf("Allow refused = %v after Refusing said %v", got, tt.want)
			}
		})
	}
}

// TestAllocs pins zero allocations on every path a request takes.
func TestAllocs(t *testing.T) {
	b, clk := newTestBreaker(testConfig)
	paths := []struct {
		name string
		f    func()
	}{
		{"closed", func() { b.Done(b.Allow(), true) }},
		{"trip and refuse", func() {
			for range 20 {
				b.Done(b.Allow(), false)
			}
			b.Allow()
		}},
		{"probe", func() {
			clk.Advance(time.Second)
			b.Done(b.Allow(), true)
		}},
		{"stats", func() { _ = b.Stats() }},
		{"refusing", func() {
			for range 20 {
				b.Done(b.Allow(), false)
			}
			_ = b.Refusing()
		}},
	}
	for _, p := range paths {
		if n := testing.AllocsPerRun(100, p.f); n != 0 {
			t.Errorf("%s: %v allocs per run, want 0", p.name, n)
		}
	}
}

// TestConcurrent runs callers on several goroutines against a clock that
// moves on, under -race. It checks that two probes are never out at once
// unless the older one's deadline had passed when the newer was let
// through, and that the counters agree.
func TestConcurrent(t *testing.T) {
	b, clk := newTestBreaker(Config{MinRequests: 5, ErrorPercent: 50, SleepWindow: 50 * time.Millisecond, Window: time.Second})
	const workers, iters = 4, 20000
	var (
		mu      sync.Mutex
		out     = map[uint64]bool{} // probes out, by their word
		badPair [2]uint64
		nPlain  atomic.Uint64
	)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for i := range iters {
				if w == 0 && i%10 == 0 {
					clk.Advance(10 * time.Millisecond)
				}
				tk := b.Allow()
				if !tk.OK() {
					continue
				}
				// Fail in streaks of about 1000 requests of a goroutine,
				// so the breaker trips, probes and closes many times.
				success := (i/1000)%2 == 0 || rng.IntN(10) == 0
				if !tk.Probe() {
					nPlain.Add(1)
					b.Done(tk, success)
					continue
				}
				mu.Lock()
				for p := range out {
					// The newer probe was let through at its deadline minus
					// the sleep: that must not come before the older one's.
					if tk.probe>>stateBits-uint64(b.sleep) < p>>stateBits {
						badPair = [2]uint64{p, tk.probe}
					}
				}
				out[tk.probe] = true
				mu.Unlock()
				b.Done(tk, success)
				mu.Lock()
				delete(out, tk.probe)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if badPair != [2]uint64{} {
		t.Fatalf("probe %#x let through while probe %#x was out and before its deadline", badPair[1], badPair[0])
	}
	s := b.Stats()
	t.Logf("stats %+v, plain requests %d", s, nPlain.Load())
	if s.Opens == 0 || s.Closes == 0 {
		t.Fatalf("the breaker never opened or never closed: %+v", s)
	}
	if s.Closes > s.Probes || s.Closes > s.Opens {
		t.Fatalf("counters disagree: %+v", s)
	}
	if got := s.Probes + s.Rejected + nPlain.Load(); got != workers*iters {
		t.Fatalf("probes + rejected + plain = %d, want %d requests", got, workers*iters)
	}
}
