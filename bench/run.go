package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Target is one server under test.
type Target struct {
	Name string `json:"name"`
	Addr string `json:"addr"` // host:port
}

// ParseTarget parses "name=host:port", or "host:port" named after itself.
func ParseTarget(s string) (Target, error) {
	name, addr, ok := strings.Cut(s, "=")
	if !ok {
		name, addr = s, s
	}
	if err := checkAddr(addr); err != nil || name == "" {
		return Target{}, fmt.Errorf("target %q: want name=host:port or name=unix:PATH", s)
	}
	return Target{Name: name, Addr: addr}, nil
}

// Counts are what a turn counted. Every request ends in exactly one of
// Gets, Sets or Errors, so Requests = Gets + Sets + Errors; every key of
// a successful get is a hit or a miss, so GetKeys = Hits + Misses.
type Counts struct {
	Requests int64 `json:"requests"`
	Gets     int64 `json:"gets"`     // answered gets
	Sets     int64 `json:"sets"`     // sets answered STORED
	GetKeys  int64 `json:"get_keys"` // keys asked for by answered gets
	Hits     int64 `json:"hits"`
	Misses   int64 `json:"misses"`
	Errors   int64 `json:"errors"` // requests answered with an error line, or lost to an I/O or protocol error
	// Dials counts the connections opened while measuring: one per
	// PerConn requests, and redials after errors.
	Dials int64 `json:"dials,omitempty"`
}

func (c *Counts) add(o Counts) {
	c.Requests += o.Requests
	c.Gets += o.Gets
	c.Sets += o.Sets
	c.GetKeys += o.GetKeys
	c.Hits += o.Hits
	c.Misses += o.Misses
	c.Errors += o.Errors
	c.Dials += o.Dials
}

// Latency holds latency percentiles in microseconds.
type Latency struct {
	P50  float64 `json:"p50_us"`
	P90  float64 `json:"p90_us"`
	P99  float64 `json:"p99_us"`
	P999 float64 `json:"p999_us"`
	Max  float64 `json:"max_us"`
}

// Point is one point of a latency distribution.
type Point struct {
	Percentile float64 `json:"percentile"` // 0..100
	Micros     float64 `json:"us"`
}

// Result is one turn: one target, one round.
type Result struct {
	Target string `json:"target"`
	Addr   string `json:"addr"`
	Round  int    `json:"round"` // from 1
	Counts
	Seconds     float64 `json:"seconds"` // measured time
	ReqPerSec   float64 `json:"req_per_s"`
	KeysPerSec  float64 `json:"keys_per_s"` // get keys + sets per second
	HitRatio    float64 `json:"hit_ratio"`  // hits / get keys
	Latency     Latency `json:"latency"`
	Percentiles []Point `json:"percentiles"`
	// ErrorSample is the first error of the turn, to say what went wrong.
	ErrorSample string `json:"error_sample,omitempty"`
	// Upstream is set when the turn counted a backend's gets.
	Upstream *Upstream `json:"upstream,omitempty"`
	// Procs is what each process of TurnOptions.Procs used.
	Procs []ProcUse `json:"procs,omitempty"`

	hist *hdrhistogram.Histogram // merged; nil after JSON round trip
}

// Histogram returns the turn's merged latency histogram in nanoseconds,
// or nil for a Result read back from JSON.
func (r *Result) Histogram() *hdrhistogram.Histogram { return r.hist }

// Upstream is a backend's get counters over one turn.
type Upstream struct {
	Addr    string `json:"addr"`
	CmdGet  uint64 `json:"cmd_get"`  // keys looked up (memcached counts each key of a multi-get)
	GetHits uint64 `json:"get_hits"` // of which found
	// PerClientGet is CmdGet over the turn's client get keys: 1 when every
	// client get key reaches the backend, less when a proxy serves some
	// itself (L1 cache, coalescing).
	PerClientGet float64 `json:"per_client_get"`
}

// Histogram bounds: nanoseconds, 3 significant digits, up to a minute
// (longer latencies are recorded as a minute).
const (
	histMin    = 1
	histMax    = int64(time.Minute)
	histDigits = 3
)

func newHist() *hdrhistogram.Histogram { return hdrhistogram.New(histMin, histMax, histDigits) }

func summarizeHist(h *hdrhistogram.Histogram) (Latency, []Point) {
	us := func(q float64) float64 { return float64(h.ValueAtQuantile(q)) / 1e3 }
	lat := Latency{P50: us(50), P90: us(90), P99: us(99), P999: us(99.9), Max: float64(h.Max()) / 1e3}
	// The points kept for a plot: denser toward the tail, as an HDR
	// percentile plot shows them.
	percentiles := [...]float64{0, 10, 20, 30, 40, 50, 60, 70, 75, 80, 85, 90, 92.5, 95, 96, 97, 97.5,
		98, 98.5, 99, 99.25, 99.5, 99.75, 99.9, 99.925, 99.95, 99.975, 99.99, 99.995, 99.999, 100}
	pts := make([]Point, 0, len(percentiles))
	for _, p := range percentiles {
		pts = append(pts, Point{Percentile: p, Micros: us(p)})
	}
	return lat, pts
}

// TurnOptions are a turn's settings beyond its workload.
type TurnOptions struct {
	Round int // from 1; with Workload.Seed it picks the random streams
	// Upstream, when set, is a memcached whose "stats" are read before and
	// after the measured part of the turn (see Upstream).
	Upstream string
	// Procs are processes whose CPU time and syscalls are read before and
	// after the measured part of the turn (see ProcUse).
	Procs []Proc
}

// RunTurn runs w against t once: it opens w.Conns connections, runs the
// warmup, then measures, and closes them. Connections that fail are
// counted as errors and redialed, so a broken target gives a Result full
// of errors rather than an error; RunTurn fails only when ctx is done or
// the upstream's stats cannot be read.
//
// Targets given the same Workload and Round are sent the same request
// streams, so their turns compare like with like.
func RunTurn(ctx context.Context, t Target, w Workload, opt TurnOptions) (*Result, error) {
	if err := w.Validate(); err != nil {
		return nil, err
	}
	ks, err := NewKeySpace(w.Keys, w.Zipf)
	if err != nil {
		return nil, err
	}
	workers := make([]*worker, w.Conns)
	for i := range workers {
		workers[i] = newWorker(t.Addr, &w, ks, rand.NewPCG(w.Seed, uint64(opt.Round)<<32|uint64(i)))
	}
	defer func() {
		for _, wk := range workers {
			wk.drop()
		}
	}()
	var wg sync.WaitGroup
	for _, wk := range workers {
		wg.Go(func() { wk.dialInitial(ctx) })
	}
	wg.Wait()

	if w.Warmup > 0 {
		runPhase(ctx, workers, time.Now().Add(w.Warmup), nil, false)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var before Stats
	if opt.Upstream != "" {
		if before, err = ReadStats(ctx, opt.Upstream, w.Timeout); err != nil {
			return nil, fmt.Errorf("count upstream: %w", err)
		}
	}
	// Why: the garbage of the previous turn (histograms, buffers) is
	// collected now rather than during this turn's measurement.
	runtime.GC()
	procsBefore, err := sampleProcs(opt.Procs)
	if err != nil {
		return nil, err
	}
	var budget *atomic.Int64
	if w.Requests > 0 {
		budget = new(atomic.Int64)
		budget.Store(w.Requests)
	}
	elapsed := runPhase(ctx, workers, time.Now().Add(w.Duration), budget, true)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	procsAfter, err := sampleProcs(opt.Procs)
	if err != nil {
		return nil, err
	}

	res := &Result{Target: t.Name, Addr: t.Addr, Round: opt.Round, hist: newHist()}
	for _, wk := range workers {
		res.Counts.add(wk.counts)
		res.hist.Merge(wk.hist)
		if res.ErrorSample == "" {
			res.ErrorSample = wk.errSample
		}
	}
	res.finish(elapsed)
	for i, p := range opt.Procs {
		res.Procs = append(res.Procs, procUse(p, procsBefore[i], procsAfter[i], res.Requests))
	}
	if opt.Upstream != "" {
		after, err := ReadStats(ctx, opt.Upstream, w.Timeout)
		if err != nil {
			return nil, fmt.Errorf("count upstream: %w", err)
		}
		res.Upstream = &Upstream{Addr: opt.Upstream, CmdGet: after.CmdGet - before.CmdGet, GetHits: after.GetHits - before.GetHits}
		if res.GetKeys > 0 {
			res.Upstream.PerClientGet = float64(res.Upstream.CmdGet) / float64(res.GetKeys)
		}
	}
	return res, nil
}

// finish derives the rates and percentiles from the counts and histogram.
func (r *Result) finish(elapsed time.Duration) {
	r.Seconds = elapsed.Seconds()
	if r.Seconds > 0 {
		r.ReqPerSec = float64(r.Requests) / r.Seconds
		r.KeysPerSec = float64(r.GetKeys+r.Sets) / r.Seconds
	}
	if r.GetKeys > 0 {
		r.HitRatio = float64(r.Hits) / float64(r.GetKeys)
	}
	r.Latency, r.Percentiles = summarizeHist(r.hist)
}

// runPhase runs every worker until the deadline (or until budget is spent,
// when not nil) and returns how long the slowest took. Each worker runs in
// a goroutine of its own that this function waits for.
func runPhase(ctx context.Context, workers []*worker, until time.Time, budget *atomic.Int64, record bool) time.Duration {
	start := time.Now()
	var wg sync.WaitGroup
	for _, wk := range workers {
		wg.Go(func() { wk.run(ctx, until, budget, record) })
	}
	wg.Wait()
	return time.Since(start)
}

// pending is one request of a batch: a get of keys lo..hi-1 of the
// batch's KeyList, or a set.
type pending struct {
	get    bool
	lo, hi int
}

// redialBackoff spaces out redials of a target that refuses connections.
const redialBackoff = 10 * time.Millisecond

// worker is one connection and the goroutine state that drives it; one
// goroutine at a time uses it.
type worker struct {
	addr  string
	w     *Workload
	rng   *rand.Rand
	keys  *KeyGen
	value []byte
	list  KeyList
	batch []pending
	c     *Client
	hist  *hdrhistogram.Histogram

	counts    Counts
	errSample string
	onConn    int // requests sent on conn (PerConn)

	// dialConn and now are net.Dialer's DialContext and time.Now, but in
	// tests; now is the clock of latencies only (deadlines are real).
	dialConn func(ctx context.Context, addr string) (net.Conn, error)
	now      func() time.Time

	mu   sync.Mutex // guards conn against the context's AfterFunc
	conn net.Conn
}

func newWorker(addr string, w *Workload, ks *KeySpace, src rand.Source) *worker {
	rng := rand.New(src)
	value := make([]byte, w.ValueSize.Max)
	for i := range value {
		value[i] = 'a' + byte(i%26)
	}
	d := &net.Dialer{Timeout: w.Timeout}
	return &worker{
		addr:     addr,
		w:        w,
		rng:      rng,
		keys:     ks.Gen(rng),
		value:    value,
		batch:    make([]pending, 0, w.Pipeline),
		c:        NewClient(nil, nil, 64<<10),
		hist:     newHist(),
		dialConn: func(ctx context.Context, addr string) (net.Conn, error) { return dial(ctx, d, addr) },
		now:      time.Now,
	}
}

// dialInitial opens the first connection; a failure is left for run to
// count, when measuring, and retry.
func (wk *worker) dialInitial(ctx context.Context) {
	_ = wk.dial(ctx)
}

func (wk *worker) dial(ctx context.Context) error {
	conn, err := wk.dialConn(ctx, wk.addr)
	if err != nil {
		return err
	}
	wk.mu.Lock()
	wk.conn = conn
	wk.mu.Unlock()
	wk.c.Reset(conn, conn)
	wk.onConn = 0
	return nil
}

// drop closes the connection, if any.
func (wk *worker) drop() {
	wk.mu.Lock()
	defer wk.mu.Unlock()
	if wk.conn != nil {
		wk.conn.Close()
		wk.conn = nil
	}
}

// fail counts n requests lost to err.
func (wk *worker) fail(err error, n int, record bool) {
	if !record {
		return
	}
	wk.counts.Errors += int64(n)
	if wk.errSample == "" {
		wk.errSample = err.Error()
	}
}

// run sends batches until the deadline, the budget or ctx ends it. A batch
// started before the deadline is finished and counted.
func (wk *worker) run(ctx context.Context, until time.Time, budget *atomic.Int64, record bool) {
	// Why: a read blocked on a stalled target must end when ctx does, not
	// when the batch timeout fires.
	stop := context.AfterFunc(ctx, func() {
		wk.mu.Lock()
		defer wk.mu.Unlock()
		if wk.conn != nil {
			wk.conn.SetDeadline(time.Unix(1, 0))
		}
	})
	defer stop()
	for ctx.Err() == nil {
		n := wk.w.Pipeline
		if wk.w.PerConn > 0 {
			used := wk.onConn
			if wk.conn == nil {
				used = 0 // a new connection is dialled below
			}
			n = min(n, wk.w.PerConn-used)
		}
		if budget != nil {
			left := budget.Add(-int64(n))
			if left+int64(n) <= 0 {
				return
			}
			if left < 0 {
				n += int(left)
			}
		} else if !time.Now().Before(until) {
			return
		}
		if record {
			wk.counts.Requests += int64(n)
		}
		var t0 time.Time // the batch's latencies count from here: the dial, or the flush
		if wk.conn == nil {
			t0 = wk.now()
			if err := wk.dial(ctx); err != nil {
				wk.fail(err, n, record)
				t := time.NewTimer(redialBackoff)
				select {
				case <-ctx.Done():
				case <-t.C:
				}
				t.Stop()
				continue
			}
			if record {
				wk.counts.Dials++
			}
		}
		wk.batchOf(n, record, t0)
		if wk.w.PerConn > 0 && wk.conn != nil {
			wk.onConn += n
			// Why close now, not before the next batch: a PHP worker
			// closes its connection when its page is done, so the server
			// sees the close while the next page is being sent.
			if wk.onConn >= wk.w.PerConn {
				wk.drop()
			}
		}
	}
}

// batchOf writes n requests, flushes them, and reads their n replies,
// recording each reply's latency from t0 (the zero time: from the flush).
// An I/O or protocol error drops the connection and fails the rest of the
// batch.
func (wk *worker) batchOf(n int, record bool, t0 time.Time) {
	w := wk.w
	wk.list.Reset()
	wk.batch = wk.batch[:0]
	for range n {
		if w.GetRatio >= 1 || wk.rng.Float64() < w.GetRatio {
			lo := wk.list.Len()
			for range w.MultiGet {
				wk.list.Append(w.KeyPrefix, wk.keys.Next())
			}
			wk.c.WriteGet(&wk.list, lo, wk.list.Len())
			wk.batch = append(wk.batch, pending{get: true, lo: lo, hi: wk.list.Len()})
		} else {
			i := wk.list.Append(w.KeyPrefix, wk.keys.Next())
			wk.c.WriteSet(wk.list.Key(i), wk.value[:w.ValueSize.Next(wk.rng)])
			wk.batch = append(wk.batch, pending{})
		}
	}
	if t0.IsZero() {
		t0 = wk.now()
	}
	if err := wk.conn.SetDeadline(time.Now().Add(w.Timeout)); err != nil {
		wk.fail(err, n, record)
		wk.drop()
		return
	}
	if err := wk.c.Flush(); err != nil {
		wk.fail(err, n, record)
		wk.drop()
		return
	}
	for i, p := range wk.batch {
		var hits int
		var err error
		if p.get {
			hits, err = wk.c.ReadGet(&wk.list, p.lo, p.hi)
		} else {
			err = wk.c.ReadStored()
		}
		lat := wk.now().Sub(t0)
		if err != nil {
			var re *ReplyError
			if errors.As(err, &re) {
				wk.fail(err, 1, record)
				continue
			}
			wk.fail(err, n-i, record)
			wk.drop()
			return
		}
		if !record {
			continue
		}
		wk.hist.RecordValue(min(int64(lat), histMax))
		if p.get {
			wk.counts.Gets++
			wk.counts.GetKeys += int64(p.hi - p.lo)
			wk.counts.Hits += int64(hits)
			wk.counts.Misses += int64(p.hi - p.lo - hits)
		} else {
			wk.counts.Sets++
		}
	}
}

// Prefill sets every key of w once through t, over min(w.Conns, 16)
// connections pipelining 64 sets each, and returns how many sets failed.
func Prefill(ctx context.Context, t Target, w Workload) (failed int64, err error) {
	if err := w.Validate(); err != nil {
		return 0, err
	}
	conns := min(w.Conns, 16, w.Keys)
	const depth = 64
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		errs   []error
		nFails atomic.Int64
	)
	for i := range conns {
		wg.Go(func() {
			if err := prefillConn(ctx, t.Addr, &w, i, conns, depth, &nFails); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return nFails.Load(), errors.Join(errs...)
}

// prefillConn sets ids first, first+stride, ... over one connection.
func prefillConn(ctx context.Context, addr string, w *Workload, first, stride, depth int, failed *atomic.Int64) error {
	conn, err := dial(ctx, &net.Dialer{Timeout: w.Timeout}, addr)
	if err != nil {
		return fmt.Errorf("prefill %s: %w", addr, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	c := NewClient(conn, conn, 64<<10)
	rng := rand.New(rand.NewPCG(w.Seed, uint64(first)))
	value := make([]byte, w.ValueSize.Max)
	for i := range value {
		value[i] = 'a' + byte(i%26)
	}
	var list KeyList
	for id := first; id < w.Keys; {
		list.Reset()
		n := 0
		for ; n < depth && id < w.Keys; id += stride {
			c.WriteSet(list.Key(list.Append(w.KeyPrefix, uint64(id))), value[:w.ValueSize.Next(rng)])
			n++
		}
		if err := conn.SetDeadline(time.Now().Add(w.Timeout)); err != nil {
			return err
		}
		if err := c.Flush(); err != nil {
			return fmt.Errorf("prefill %s: %w", addr, err)
		}
		for range n {
			if err := c.ReadStored(); err != nil {
				var re *ReplyError
				if !errors.As(err, &re) {
					return fmt.Errorf("prefill %s: %w", addr, err)
				}
				failed.Add(1)
			}
		}
	}
	return nil
}
