package bench

import (
	"bufio"
	"context"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fae-sidecar/fae/internal/testproc"
)

// shortWorkload is a workload small enough for a unit test; no figure of
// it is ever asserted, only the consistency of its counts.
func shortWorkload() Workload {
	w := DefaultWorkload()
	w.Conns, w.Pipeline, w.Keys = 4, 4, 100
	w.Duration, w.Warmup = 200*time.Millisecond, 50*time.Millisecond
	w.Timeout = 10 * time.Second
	return w
}

// checkCounts asserts the accounting identities every Result obeys.
func checkCounts(t *testing.T, r *Result, multiget int) {
	t.Helper()
	c := r.Counts
	if c.Requests != c.Gets+c.Sets+c.Errors {
		t.Errorf("%s round %d: requests %d != gets %d + sets %d + errors %d", r.Target, r.Round, c.Requests, c.Gets, c.Sets, c.Errors)
	}
	if c.GetKeys != c.Hits+c.Misses || c.GetKeys != int64(multiget)*c.Gets {
		t.Errorf("%s round %d: get keys %d, hits %d, misses %d, gets %d of %d keys", r.Target, r.Round, c.GetKeys, c.Hits, c.Misses, c.Gets, multiget)
	}
	if n := r.Histogram().TotalCount(); n != c.Gets+c.Sets {
		t.Errorf("%s round %d: %d latencies recorded for %d answered requests", r.Target, r.Round, n, c.Gets+c.Sets)
	}
}

func TestRunAgainstMemcached(t *testing.T) {
	addr := testproc.StartMemcached(t, "-t", "1")
	tests := []struct {
		name     string
		multiget int
		getRatio float64
	}{
		{name: "single gets and sets", multiget: 1, getRatio: 0.9},
		{name: "multi-get of 5", multiget: 5, getRatio: 0.8},
		{name: "gets only", multiget: 1, getRatio: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := shortWorkload()
			w.MultiGet, w.GetRatio = tt.multiget, tt.getRatio
			w.KeyPrefix = strings.ReplaceAll(tt.name, " ", "-") + ":"
			cfg := Config{
				Workload: w,
				Targets:  []Target{{Name: "A", Addr: addr}, {Name: "B", Addr: addr}},
				Rounds:   2,
				Upstream: addr,
			}
			rep, err := Run(context.Background(), cfg, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Prefill) != 2 || rep.Prefill[0].Failed != 0 {
				t.Errorf("prefill %+v", rep.Prefill)
			}
			var order string
			for _, r := range rep.Results {
				order += r.Target
				checkCounts(t, r, tt.multiget)
				if r.Requests == 0 || r.Errors != 0 || r.ErrorSample != "" {
					t.Errorf("%s round %d: %d requests, %d errors (%s)", r.Target, r.Round, r.Requests, r.Errors, r.ErrorSample)
				}
				if r.Misses != 0 {
					t.Errorf("%s round %d: %d misses after prefill", r.Target, r.Round, r.Misses)
				}
				// The targets are the upstream itself: every get key is one cmd_get.
				if r.Upstream == nil || r.Upstream.CmdGet != uint64(r.GetKeys) || r.Upstream.GetHits != uint64(r.Hits) {
					t.Errorf("%s round %d: upstream %+v for %d get keys, %d hits", r.Target, r.Round, r.Upstream, r.GetKeys, r.Hits)
				}
			}
			if order != "ABAB" {
				t.Errorf("turns ran %q, want ABAB", order)
			}
			if len(rep.Summary) != 2 || rep.Summary[0].ThroughputRatio != 1 || rep.Summary[0].Rounds != 2 {
				t.Errorf("summary %+v", rep.Summary)
			}
		})
	}
}

func TestRunTurnRequestBudget(t *testing.T) {
	addr := testproc.StartMemcached(t)
	w := shortWorkload()
	w.Conns, w.Pipeline, w.Requests, w.Warmup = 3, 7, 1000, 0
	r, err := RunTurn(context.Background(), Target{Name: "m", Addr: addr}, w, TurnOptions{Round: 1})
	if err != nil {
		t.Fatal(err)
	}
	checkCounts(t, r, 1)
	if r.Requests != 1000 || r.Errors != 0 {
		t.Errorf("%d requests, %d errors; want exactly 1000 and none", r.Requests, r.Errors)
	}
}

// TestWorkerZeroAlloc pins the steady state of a connection's loop
// against a real memcached: a pipelined batch allocates nothing.
func TestWorkerZeroAlloc(t *testing.T) {
	addr := testproc.StartMemcached(t)
	w := shortWorkload()
	w.MultiGet, w.GetRatio = 3, 0.7
	ks, err := NewKeySpace(w.Keys, w.Zipf)
	if err != nil {
		t.Fatal(err)
	}
	wk := newWorker(addr, &w, ks, rand.NewPCG(1, 1))
	if err := wk.dial(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer wk.drop()
	wk.batchOf(8, true, time.Time{}) // grow the batch and key buffers
	allocs := testing.AllocsPerRun(200, func() { wk.batchOf(8, true, time.Time{}) })
	if wk.counts.Errors != 0 {
		t.Fatalf("errors: %s", wk.errSample)
	}
	if allocs != 0 {
		t.Errorf("%v allocations per batch, want 0", allocs)
	}
}

func TestRunTurnCountsErrors(t *testing.T) {
	// Answers every request line with SERVER_ERROR; set data lines too,
	// which puts the stream out of step for sets: gets only here.
	serverError := testproc.ServeTCP(t, func(c net.Conn) {
		r := bufio.NewReader(c)
		for {
			if _, err := r.ReadSlice('\n'); err != nil {
				return
			}
			if _, err := c.Write([]byte("SERVER_ERROR test backend down\r\n")); err != nil {
				return
			}
		}
	})
	// Answers one get with a VALUE for a key never asked for, then hangs up.
	wrongKey := testproc.ServeTCP(t, func(c net.Conn) {
		r := bufio.NewReader(c)
		if _, err := r.ReadSlice('\n'); err == nil {
			c.Write([]byte("VALUE nobody 0 1\r\nx\r\nEND\r\n"))
		}
		c.Close()
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := ln.Addr().String()
	ln.Close()

	tests := []struct {
		name, addr, sample string
	}{
		{name: "server error replies", addr: serverError, sample: "SERVER_ERROR test backend down"},
		{name: "reply to another key", addr: wrongKey, sample: "not asked for"},
		{name: "connection refused", addr: refused, sample: "refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := shortWorkload()
			w.GetRatio, w.Warmup, w.Duration = 1, 0, 100*time.Millisecond
			r, err := RunTurn(context.Background(), Target{Name: "bad", Addr: tt.addr}, w, TurnOptions{Round: 1})
			if err != nil {
				t.Fatal(err)
			}
			checkCounts(t, r, 1)
			if r.Errors == 0 || r.Errors != r.Requests {
				t.Errorf("%d errors of %d requests, want all", r.Errors, r.Requests)
			}
			if !strings.Contains(r.ErrorSample, tt.sample) {
				t.Errorf("error sample %q, want one containing %q", r.ErrorSample, tt.sample)
			}
		})
	}
}

func TestReadStatsAndIdle(t *testing.T) {
	addr := testproc.StartMemcached(t)
	st, err := ReadStats(context.Background(), addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if st.CmdGet != 0 {
		t.Errorf("fresh memcached: cmd_get %d", st.CmdGet)
	}
	// HoldIdle reads the RSS of this test process (no pid of the
	// memcached is at hand); only the connection count is checked.
	res, err := HoldIdle(context.Background(), Target{Name: "m", Addr: addr}, 20, os.Getpid(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if res.Opened != 20 || res.FirstError != "" || res.RSSBeforeKiB <= 0 || res.RSSOpenKiB <= 0 {
		t.Errorf("idle: %+v", res)
	}
	st, err = ReadStats(context.Background(), addr, 5*time.Second)
	if err != nil || st.CmdGet != 20 {
		t.Errorf("after 20 idle probes: cmd_get %d, %v", st.CmdGet, err)
	}
}

// TestPerConnReconnects: with PerConn, each connection carries that many
// requests (a batch never spans two) and memcached sees every connection.
func TestPerConnReconnects(t *testing.T) {
	// One worker thread: memcached counts connections in the order they
	// came (with several, the readiness probe's may be counted late).
	addr := testproc.StartMemcached(t, "-t", "1")
	tests := []struct {
		name                        string
		perConn, pipeline, requests int
		wantConns                   int64 // connections that carried the turn, the first one dialled before it
	}{
		{name: "one request each", perConn: 1, pipeline: 1, requests: 50, wantConns: 50},
		{name: "3 each, no pipelining", perConn: 3, pipeline: 1, requests: 300, wantConns: 100},
		{name: "5 each in batches of 2, 2, 1", perConn: 5, pipeline: 2, requests: 100, wantConns: 20},
		{name: "pipeline deeper than per-conn", perConn: 4, pipeline: 16, requests: 100, wantConns: 25},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := shortWorkload()
			w.Conns, w.Warmup, w.PerConn, w.Pipeline, w.Requests = 1, 0, tt.perConn, tt.pipeline, int64(tt.requests)
			before, err := ReadStats(context.Background(), addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			r, err := RunTurn(context.Background(), Target{Name: "m", Addr: addr}, w, TurnOptions{Round: 1})
			if err != nil {
				t.Fatal(err)
			}
			after, err := ReadStats(context.Background(), addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			checkCounts(t, r, 1)
			if r.Requests != int64(tt.requests) || r.Errors != 0 {
				t.Errorf("%d requests, %d errors (%s); want %d, none", r.Requests, r.Errors, r.ErrorSample, tt.requests)
			}
			if r.Dials != tt.wantConns-1 {
				t.Errorf("%d dials while measuring, want %d", r.Dials, tt.wantConns-1)
			}
			// The after-stats connection is counted too.
			if got := int64(after.TotalConns - before.TotalConns); got != tt.wantConns+1 {
				t.Errorf("memcached accepted %d connections, want %d and the stats one", got, tt.wantConns)
			}
		})
	}
}

// TestPerConnLatencyCountsTheConnect runs a worker on a clock that the
// dial moves on by a second: the first batch of each connection takes
// that second in its latency, the others do not.
func TestPerConnLatencyCountsTheConnect(t *testing.T) {
	addr := testproc.StartMemcached(t)
	w := shortWorkload()
	w.PerConn, w.Pipeline, w.GetRatio = 3, 1, 1
	ks, err := NewKeySpace(w.Keys, w.Zipf)
	if err != nil {
		t.Fatal(err)
	}
	wk := newWorker(addr, &w, ks, rand.NewPCG(1, 1))
	clock := time.Unix(1000, 0)
	wk.now = func() time.Time { clock = clock.Add(time.Microsecond); return clock }
	real := wk.dialConn
	wk.dialConn = func(ctx context.Context, addr string) (net.Conn, error) {
		clock = clock.Add(time.Second)
		return real(ctx, addr)
	}
	defer wk.drop()
	var budget atomic.Int64
	budget.Store(30)
	wk.run(context.Background(), time.Time{}, &budget, true)
	if wk.counts.Errors != 0 || wk.counts.Dials != 10 {
		t.Fatalf("%d errors (%s), %d dials; want none, 10", wk.counts.Errors, wk.errSample, wk.counts.Dials)
	}
	var over int64
	for _, bar := range wk.hist.Distribution() {
		if bar.From >= int64(time.Second)/2 { // a bucket's From may be just under 1s
			over += bar.Count
		}
	}
	if over != 10 || wk.hist.TotalCount() != 30 {
		t.Errorf("%d of %d latencies include the 1s connect, want 10 of 30 (one per connection)", over, wk.hist.TotalCount())
	}
}

// A target "unix:PATH" is reached over a unix socket: here a real
// memcached behind a socket that copies bytes both ways.
func TestRunTurnUnixSocket(t *testing.T) {
	mc := testproc.StartMemcached(t)
	path := t.TempDir() + "/mc.sock"
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", mc)
			if err != nil {
				c.Close()
				return
			}
			go func() { _, _ = io.Copy(u, c); u.Close() }()
			go func() { _, _ = io.Copy(c, u); c.Close() }()
		}
	}()
	tg, err := ParseTarget("sock=unix:" + path)
	if err != nil {
		t.Fatal(err)
	}
	w := shortWorkload()
	w.Requests, w.Warmup, w.PerConn = 500, 0, 5
	r, err := RunTurn(t.Context(), tg, w, TurnOptions{Round: 1})
	if err != nil {
		t.Fatal(err)
	}
	checkCounts(t, r, 1)
	if r.Requests != 500 || r.Errors != 0 {
		t.Errorf("%d requests, %d errors (%s); want 500 and none", r.Requests, r.Errors, r.ErrorSample)
	}
	for _, bad := range []string{"sock=unix:", "sock=/no/port"} {
		if _, err := ParseTarget(bad); err == nil {
			t.Errorf("ParseTarget(%q): no error", bad)
		}
	}
}
