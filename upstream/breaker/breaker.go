package breaker

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// State is where a breaker stands.
type State uint8

const (
	Closed   State = iota // requests flow and are counted
	Open                  // requests are refused at once
	HalfOpen              // one probe is out; other requests are refused
)

func (s State) String() string {
	switch s {
	case Closed:
		return "closed"
	case Open:
		return "open"
	case HalfOpen:
		return "half_open"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// Defaults are hystrix's.
const (
	DefaultMinRequests  = 20
	DefaultErrorPercent = 50
	DefaultSleepWindow  = 5 * time.Second
	DefaultWindow       = 10 * time.Second
)

// Buckets is how many buckets the rolling window is cut into (hystrix's
// default): outcomes leave the window one bucket, Window/Buckets, at a time.
const Buckets = 10

// Config holds a breaker's rules; a zero field takes its default.
type Config struct {
	MinRequests  int           // outcomes the window needs before it may open (20)
	ErrorPercent int           // failed share, in percent, that opens it: 1..100 (50)
	SleepWindow  time.Duration // how long it stays open before a probe (5s)
	Window       time.Duration // the rolling window's span (10s)
}

// ErrConfig is wrapped by Validate's errors.
var ErrConfig = errors.New("breaker: invalid config")

// Validate reports a field out of range, naming it; zero fields are fine
// (they take their defaults).
func (c Config) Validate() error {
	switch {
	case c.MinRequests < 0:
		return fmt.Errorf("%w: min_requests %d < 0", ErrConfig, c.MinRequests)
	case c.MinRequests > maxCount:
		return fmt.Errorf("%w: min_requests %d > %d", ErrConfig, c.MinRequests, maxCount)
	case c.ErrorPercent < 0 || c.ErrorPercent > 100:
		return fmt.Errorf("%w: error_percent %d not in 1..100 (0: the default)", ErrConfig, c.ErrorPercent)
	case c.SleepWindow < 0:
		return fmt.Errorf("%w: sleep_window %v < 0", ErrConfig, c.SleepWindow)
	case c.Window < 0:
		return fmt.Errorf("%w: window %v < 0", ErrConfig, c.Window)
	case c.Window > 0 && c.Window < Buckets:
		return fmt.Errorf("%w: window %v shorter than %dns", ErrConfig, c.Window, Buckets)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.MinRequests == 0 {
		c.MinRequests = DefaultMinRequests
	}
	if c.ErrorPercent == 0 {
		c.ErrorPercent = DefaultErrorPercent
	}
	if c.SleepWindow == 0 {
		c.SleepWindow = DefaultSleepWindow
	}
	if c.Window == 0 {
		c.Window = DefaultWindow
	}
	return c
}

// Clock reads a monotonic clock: only differences between its readings
// matter, and they must never go backwards. It must be safe for concurrent
// use.
type Clock func() time.Duration

// SystemClock returns a Clock counting from now on the monotonic clock
// (time.Since takes its fast path: no wall-clock read).
func SystemClock() Clock {
	start := time.Now()
	return func() time.Duration { return time.Since(start) }
}

// A bucket is one word: | tag:24 | failed:20 | total:20 |, where tag is the
// low 24 bits of the bucket's epoch (clock / bucket span). One word makes an
// update a single CAS and a rolled-over bucket restart exactly at its first
// outcome. Counts stop at maxCount per bucket (a million outcomes per
// server per bucket span is far beyond one memcached); the share that
// trips the breaker is then taken over the first million.
const (
	countBits = 20
	maxCount  = 1<<countBits - 1
	tagShift  = 2 * countBits
	tagMask   = 1<<24 - 1
)

// The state word: | time:62 | state:2 |. Closed is the word 0, so the
// common Allow is one load and one compare. For Open and HalfOpen, time is
// the clock reading until which requests are refused: the open breaker's
// end of sleep, the probe's deadline. A half-open word is unique to its
// probe (its deadline grows with every probe), so a probe reports with a
// CAS from the word it created and a superseded probe's report changes
// nothing.
const stateBits = 2

func word(s State, until time.Duration) uint64 { return uint64(until)<<stateBits | uint64(s) }

// Breaker guards one upstream server. The zero value is not usable: call
// New. Safe for concurrent use.
type Breaker struct {
	state atomic.Uint64
	_     [56]byte // keep the state word, read by every Allow, off the counters' lines

	buckets [Buckets]atomic.Uint64
	_       [48]byte

	opens, closes, probes, rejected atomic.Uint64

	now        Clock
	min        uint64
	percent    uint64
	sleep      time.Duration
	bucketSpan time.Duration
}

// New returns a closed breaker with cfg's rules (defaults filled in).
// A nil clock means SystemClock. New panics on a config that Validate
// refuses: validate configuration where it is read.
func New(cfg Config, clock Clock) *Breaker {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	cfg = cfg.withDefaults()
	if clock == nil {
		clock = SystemClock()
	}
	return &Breaker{
		now:        clock,
		min:        uint64(cfg.MinRequests),
		percent:    uint64(cfg.ErrorPercent),
		sleep:      cfg.SleepWindow,
		bucketSpan: cfg.Window / Buckets,
	}
}

// Ticket is Allow's answer, handed back to Done with the outcome. It is a
// small value: copy it freely, report it once.
type Ticket struct {
	probe uint64 // the half-open word this probe created; 0 for a plain request
	ok    bool
}

// OK reports whether the request may be sent. A refused request is not
// reported to Done.
func (t Ticket) OK() bool { return t.ok }

// Probe reports whether the request is the half-open probe: its outcome
// closes or reopens the breaker.
func (t Ticket) Probe() bool { return t.probe != 0 }

// Allow says whether a request may go to the server now. While closed it
// costs one atomic load; while open it reads the clock.
func (b *Breaker) Allow() Ticket {
	if w := b.state.Load(); w != 0 {
		return b.allowSlow(w)
	}
	return Ticket{ok: true}
}

func (b *Breaker) allowSlow(w uint64) Ticket {
	now := b.now()
	for {
		if w == 0 {
			return Ticket{ok: true}
		}
		if now < time.Duration(w>>stateBits) {
			b.rejected.Add(1)
			return Ticket{}
		}
		// The sleep (or a lost probe's deadline) is over: this request
		// becomes the probe, if no other caller won the race.
		probe := word(HalfOpen, now+b.sleep)
		if b.state.CompareAndSwap(w, probe) {
			b.probes.Add(1)
			return Ticket{probe: probe, ok: true}
		}
		w = b.state.Load()
	}
}

// Refusing reports whether Allow would refuse a request now: the breaker
// is open and its sleep is not over, or its half-open probe is out. It
// changes nothing (a request that finds the sleep over is not made the
// probe), so a caller that can send a request elsewhere (a failover server)
// asks it before placing the request, and Allow where it sends it. While
// closed it costs one atomic load.
func (b *Breaker) Refusing() bool {
	w := b.state.Load()
	return w != 0 && b.now() < time.Duration(w>>stateBits)
}

// Done reports the outcome of a request that Allow let through: success
// means the server answered (any reply memcached can send), failure that it
// did not (refused, reset, timed out). Reporting a refused ticket does
// nothing. Outcomes count when they are reported: a request let through
// before the breaker opened and reported after a probe closed it counts in
// the new window.
//
// Done reads the clock once: about 26 ns of its ~43 here with SystemClock;
// a caller that already knows the time (an event loop's tick) can inject a
// cheaper Clock.
func (b *Breaker) Done(t Ticket, success bool) {
	switch {
	case !t.ok:
		return
	case t.probe != 0:
		b.doneProbe(t.probe, success)
		return
	}
	now := b.now()
	epoch := uint64(now / b.bucketSpan)
	b.record(epoch, !success)
	if b.state.Load() != 0 {
		// Open or half-open: a late outcome of a request let through before
		// the breaker opened is counted but decides nothing.
		return
	}
	if total, failed := b.window(epoch); total >= b.min && failed*100 >= b.percent*total {
		if b.state.CompareAndSwap(0, word(Open, now+b.sleep)) {
			b.opens.Add(1)
		}
	}
}

func (b *Breaker) doneProbe(probe uint64, success bool) {
	if success {
		// Clear the window before closing, so that no report sees the old
		// failures under a closed state and trips the breaker again at once.
		b.clear()
		if b.state.CompareAndSwap(probe, 0) {
			b.closes.Add(1)
		}
		return
	}
	if b.state.CompareAndSwap(probe, word(Open, b.now()+b.sleep)) {
		b.opens.Add(1)
	}
}

func (b *Breaker) record(epoch uint64, failed bool) {
	tag := epoch & tagMask
	slot := &b.buckets[epoch%Buckets]
	inc := uint64(1)
	if failed {
		inc |= 1 << countBits
	}
	for {
		old := slot.Load()
		var w uint64
		switch {
		case old>>tagShift != tag: // the slot holds an epoch gone by: restart it
			w = tag<<tagShift | inc
		case old&maxCount == maxCount: // saturated
			return
		default:
			w = old + inc
		}
		if slot.CompareAndSwap(old, w) {
			return
		}
	}
}

// window sums the buckets of the last Buckets epochs up to epoch.
func (b *Breaker) window(epoch uint64) (total, failed uint64) {
	for i := range b.buckets {
		w := b.buckets[i].Load()
		if (epoch-w>>tagShift)&tagMask < Buckets {
			total += w & maxCount
			failed += w >> countBits & maxCount
		}
	}
	return total, failed
}

func (b *Breaker) clear() {
	for i := range b.buckets {
		b.buckets[i].Store(0)
	}
}

// State returns the breaker's state now. An open breaker whose sleep is over
// reports Open until a request comes to probe.
func (b *Breaker) State() State { return State(b.state.Load() & (1<<stateBits - 1)) }

// Stats is a breaker's counters since New, and its window now.
type Stats struct {
	State    State
	Opens    uint64 // times it opened, probes that failed included
	Closes   uint64 // probes that succeeded
	Probes   uint64 // half-open probes let through
	Rejected uint64 // requests refused while open or half-open
	Requests uint64 // outcomes in the rolling window
	Failures uint64 // failed outcomes in the rolling window
}

// Stats reads the counters; each is exact, the set is not one snapshot.
func (b *Breaker) Stats() Stats {
	total, failed := b.window(uint64(b.now() / b.bucketSpan))
	return Stats{
		State:    b.State(),
		Opens:    b.opens.Load(),
		Closes:   b.closes.Load(),
		Probes:   b.probes.Load(),
		Rejected: b.rejected.Load(),
		Requests: total,
		Failures: failed,
	}
}
