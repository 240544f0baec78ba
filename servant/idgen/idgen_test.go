package idgen

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// fakeClock is a settable clock; ms counts milliseconds after base.
type fakeClock struct{ ns atomic.Int64 }

var base = time.UnixMilli(1_800_000_000_000) // 2027-01-15

func (c *fakeClock) now() time.Time      { return base.Add(time.Duration(c.ns.Load())) }
func (c *fakeClock) setMs(ms int64)      { c.ns.Store(ms * int64(time.Millisecond)) }
func (c *fakeClock) add(d time.Duration) { c.ns.Add(int64(d)) }

// bubbleClock is a synctest bubble's clock (which starts in 2000, before
// fae's epoch) moved to base, less back.
func bubbleClock(back *atomic.Int64) func() time.Time {
	shift := base.Sub(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC))
	return func() time.Time { return time.Now().Add(shift - time.Duration(back.Load())) }
}

// newAt returns a generator on a fake clock moved past the start fence, at
// millisecond 100 after base.
func newAt(t *testing.T, worker int, maxWait time.Duration) (*Generator, *fakeClock) {
	t.Helper()
	c := &fakeClock{}
	g, err := New(worker, c.now, maxWait)
	if err != nil {
		t.Fatal(err)
	}
	c.setMs(100)
	return g, c
}

func TestNewWorker(t *testing.T) {
	for _, tc := range []struct {
		worker int
		want   error
	}{
		{worker: -1, want: ErrBadWorker},
		{worker: 0},
		{worker: 17},
		{worker: 31},
		{worker: 32, want: ErrBadWorker},
	} {
		g, err := New(tc.worker, nil, 0)
		if !errors.Is(err, tc.want) {
			t.Errorf("New(%d): %v, want %v", tc.worker, err, tc.want)
		}
		if err == nil && g.Worker() != tc.worker {
			t.Errorf("New(%d).Worker() = %d", tc.worker, g.Worker())
		}
	}
}

func TestNextWithTagRange(t *testing.T) {
	g, _ := newAt(t, 3, 0)
	for _, tc := range []struct {
		tag  int16
		want error
	}{
		{tag: -1, want: ErrBadTag},
		{tag: 0},
		{tag: 31},
		{tag: 32, want: ErrBadTag},
		{tag: 1000, want: ErrBadTag},
	} {
		id, err := g.NextWithTag(context.Background(), tc.tag)
		if !errors.Is(err, tc.want) {
			t.Errorf("NextWithTag(%d): %v, want %v", tc.tag, err, tc.want)
		}
		if _, tag, _, _ := Decode(id); err == nil && tag != int64(tc.tag) {
			t.Errorf("NextWithTag(%d) decodes to tag %d", tc.tag, tag)
		}
	}
}

// The layout is fae's: 41 bits of ms since 1388834974657, 5 of tag, 5 of
// worker, 12 of sequence.
func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		id                   int64
		ms, tag, worker, seq int64
	}{
		{name: "zero", id: 0, ms: Epoch},
		{name: "one of each", id: 1<<22 | 1<<17 | 1<<12 | 1, ms: Epoch + 1, tag: 1, worker: 1, seq: 1},
		{name: "literal", id: 4329473, ms: Epoch + 1, tag: 1, worker: 1, seq: 1},
		{name: "max", id: 1<<63 - 1, ms: Epoch + 1<<41 - 1, tag: 31, worker: 31, seq: 4095},
		{name: "2027", id: (1_800_000_000_000-Epoch)<<22 | 7<<17 | 30<<12 | 99, ms: 1_800_000_000_000, tag: 7, worker: 30, seq: 99},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ms, tag, worker, seq := Decode(tc.id)
			if ms != tc.ms || tag != tc.tag || worker != tc.worker || seq != tc.seq {
				t.Errorf("Decode(%d) = %d %d %d %d, want %d %d %d %d", tc.id, ms, tag, worker, seq, tc.ms, tc.tag, tc.worker, tc.seq)
			}
		})
	}
}

// Decode gives back the clock's unix milliseconds, the tag and the worker
// of each id made.
func TestDecodeInvertsNext(t *testing.T) {
	for _, worker := range []int{0, 5, 31} {
		g, c := newAt(t, worker, 0)
		for i := range 200 {
			c.setMs(100 + int64(i))
			tag := int16(i % 32)
			id, err := g.NextWithTag(context.Background(), tag)
			if err != nil {
				t.Fatal(err)
			}
			ms, gotTag, gotWorker, seq := Decode(id)
			if ms != c.now().UnixMilli() || gotTag != int64(tag) || gotWorker != int64(worker) || seq != 0 {
				t.Fatalf("worker %d, ms %d, tag %d: decoded %d %d %d %d", worker, c.now().UnixMilli(), tag, ms, gotTag, gotWorker, seq)
			}
		}
	}
}

// Steps on a frozen or moving clock: each id is larger than the one before,
// whatever its tag, by the rules of the package doc.
func TestIncreasingAcrossTags(t *testing.T) {
	type step struct {
		clockMs int64 // after base
		tag     int16
		wantMs  int64 // the id's ms after base
		wantSeq int64
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{name: "same tag counts the sequence", steps: []step{
			{clockMs: 100, tag: 4, wantMs: 100, wantSeq: 0},
			{clockMs: 100, tag: 4, wantMs: 100, wantSeq: 1},
			{clockMs: 100, tag: 4, wantMs: 100, wantSeq: 2},
			{clockMs: 101, tag: 4, wantMs: 101, wantSeq: 0},
		}},
		{name: "a larger tag keeps the ms", steps: []step{
			{clockMs: 100, tag: 1, wantMs: 100},
			{clockMs: 100, tag: 1, wantMs: 100, wantSeq: 1},
			{clockMs: 100, tag: 9, wantMs: 100, wantSeq: 0},
			{clockMs: 100, tag: 31, wantMs: 100, wantSeq: 0},
		}},
		{name: "a smaller tag takes the next ms", steps: []step{
			{clockMs: 100, tag: 9, wantMs: 100},
			{clockMs: 100, tag: 3, wantMs: 101},
			{clockMs: 100, tag: 0, wantMs: 102},
			{clockMs: 100, tag: 0, wantMs: 102, wantSeq: 1},
			{clockMs: 101, tag: 0, wantMs: 102, wantSeq: 2}, // still ahead of the clock
			{clockMs: 103, tag: 0, wantMs: 103, wantSeq: 0}, // the clock caught up
		}},
		{name: "a clock back within MaxLead continues from the last id", steps: []step{
			{clockMs: 100, tag: 2, wantMs: 100},
			{clockMs: 95, tag: 2, wantMs: 100, wantSeq: 1},
			{clockMs: 95, tag: 1, wantMs: 101},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g, c := newAt(t, 1, 0)
			var prev int64
			for i, s := range tc.steps {
				c.setMs(s.clockMs)
				id, err := g.NextWithTag(context.Background(), s.tag)
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				ms, tag, _, seq := Decode(id)
				if ms != base.UnixMilli()+s.wantMs || tag != int64(s.tag) || seq != s.wantSeq {
					t.Errorf("step %d: ms %+d tag %d seq %d, want ms %+d tag %d seq %d",
						i, ms-base.UnixMilli(), tag, seq, s.wantMs, s.tag, s.wantSeq)
				}
				if id <= prev {
					t.Errorf("step %d: id %d not above %d", i, id, prev)
				}
				prev = id
			}
		})
	}
}

// 4096 ids of one ms use up its sequence; the next id takes the next ms.
func TestSequenceOverflow(t *testing.T) {
	g, _ := newAt(t, 0, 0)
	var prev int64
	for i := range 4096 + 10 {
		id, err := g.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		ms, _, _, seq := Decode(id)
		wantMs, wantSeq := base.UnixMilli()+100+int64(i/4096), int64(i%4096)
		if ms != wantMs || seq != wantSeq || id <= prev {
			t.Fatalf("id %d: ms %d seq %d, want %d %d", i, ms, seq, wantMs, wantSeq)
		}
		prev = id
	}
}

// A frozen clock lets ids run MaxLead ahead of it and no further; with no
// time to wait, the next call fails and issues nothing.
func TestLeadBound(t *testing.T) {
	g, c := newAt(t, 0, 0)
	var issued int
	var err error
	for tag := int16(1); err == nil; tag ^= 1 { // 1, 0, 1, 0: every other id takes a new ms
		_, err = g.NextWithTag(context.Background(), tag)
		if err == nil {
			issued++
		}
	}
	if !errors.Is(err, ErrClockBack) {
		t.Fatalf("got %v, want ErrClockBack", err)
	}
	if want := 2*int(leadMs) + 1; issued != want { // tag 1 at ms 100, then tags 0 and 1 at 101..110
		t.Errorf("%d ids before the bound, want %d", issued, want)
	}
	last := g.last.Load()
	c.add(time.Millisecond)
	id, err := g.NextWithTag(context.Background(), 1)
	if err != nil || id <= last {
		t.Errorf("after the clock moved: %d, %v (last %d)", id, err, last)
	}
}

// A clock that steps back never yields a duplicate: the call waits up to
// maxWait for it to catch up, then fails with ErrClockBack. Runs in a
// synctest bubble, where time.Now is the bubble's clock and waiting costs
// no real time.
func TestClockBack(t *testing.T) {
	cases := []struct {
		name     string
		back     time.Duration
		maxWait  time.Duration
		want     error
		wantWait time.Duration // of the bubble's time
	}{
		{name: "within MaxLead: no wait", back: 5 * time.Millisecond, maxWait: time.Second, wantWait: 0},
		{name: "caught up within maxWait", back: 50 * time.Millisecond, maxWait: time.Second, wantWait: 40 * time.Millisecond},
		{name: "not within maxWait", back: time.Second, maxWait: 100 * time.Millisecond, want: ErrClockBack, wantWait: 100 * time.Millisecond},
		{name: "no wait allowed", back: time.Second, maxWait: 0, want: ErrClockBack, wantWait: 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var back atomic.Int64
				g, err := New(2, bubbleClock(&back), tc.maxWait)
				if err != nil {
					t.Fatal(err)
				}
				time.Sleep(MaxLead + time.Millisecond) // past the start fence
				prev, err := g.Next(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				back.Store(int64(tc.back))
				start := time.Now()
				id, err := g.Next(t.Context())
				if waited := time.Since(start); waited != tc.wantWait {
					t.Errorf("waited %v, want %v", waited, tc.wantWait)
				}
				if !errors.Is(err, tc.want) {
					t.Fatalf("got %v, want %v", err, tc.want)
				}
				if err == nil && id <= prev {
					t.Errorf("id %d not above the previous %d", id, prev)
				}
				if err != nil && g.last.Load() != prev {
					t.Errorf("a failed call issued an id")
				}
			})
		})
	}
}

// A wait ends with the caller's context.
func TestWaitCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var back atomic.Int64
		g, _ := New(0, bubbleClock(&back), time.Hour)
		back.Store(int64(time.Hour))
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := g.Next(ctx)
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != 30*time.Millisecond {
			t.Errorf("got %v after %v", err, time.Since(start))
		}
	})
}

// The first id waits for the start fence: past any id a previous run on
// this host issued ahead of the clock.
func TestStartFence(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clock := bubbleClock(new(atomic.Int64))
		start := clock()
		g, _ := New(0, clock, time.Second)
		id, err := g.Next(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		ms, _, _, _ := Decode(id)
		if fence := start.UnixMilli() + leadMs; ms <= fence {
			t.Errorf("first id at %d, not past the fence %d", ms, fence)
		}
	})
}

func TestClockRange(t *testing.T) {
	for _, tc := range []struct {
		name string
		at   time.Time
	}{
		{name: "before the epoch", at: time.UnixMilli(Epoch - 1)},
		{name: "1970", at: time.Unix(0, 0)},
		{name: "past 2083", at: time.UnixMilli(Epoch + 1<<41)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := New(0, func() time.Time { return tc.at }, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := g.Next(context.Background()); !errors.Is(err, ErrClockRange) {
				t.Errorf("got %v, want ErrClockRange", err)
			}
		})
	}
}

// collect runs callers goroutines taking n ids each with next; it returns
// each caller's ids in call order.
func collect(t *testing.T, callers, n int, next func(caller, i int) (int64, error)) [][]int64 {
	t.Helper()
	ids := make([][]int64, callers)
	errs := make(chan error, callers)
	var wg sync.WaitGroup
	for c := range callers {
		wg.Go(func() {
			own := make([]int64, 0, n)
			for i := range n {
				id, err := next(c, i)
				if err != nil {
					errs <- err
					return
				}
				own = append(own, id)
			}
			ids[c] = own
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return ids
}

// checkIDs: each caller's ids increase, and no id was issued twice.
func checkIDs(t *testing.T, ids [][]int64) {
	t.Helper()
	var all []int64
	for c, own := range ids {
		for i := 1; i < len(own); i++ {
			if own[i] <= own[i-1] {
				t.Fatalf("caller %d: id %d (%d) not above id %d (%d)", c, i, own[i], i-1, own[i-1])
			}
		}
		all = append(all, own...)
	}
	slices.Sort(all)
	for i := 1; i < len(all); i++ {
		if all[i] == all[i-1] {
			t.Fatalf("id %d issued twice", all[i])
		}
	}
}

// 1,000,000 ids from 16 goroutines on the real clock: unique, and
// increasing for each caller.
func TestConcurrentMillion(t *testing.T) {
	g, err := New(7, nil, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	checkIDs(t, collect(t, 16, 1_000_000/16, func(int, int) (int64, error) { return g.Next(ctx) }))
}

// Callers taking random tags at once: ids stay unique and increasing for
// each caller (in a bubble, so the waits for the clock cost no real time).
func TestConcurrentMixedTags(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, _ := New(7, bubbleClock(new(atomic.Int64)), time.Second)
		ids := collect(t, 16, 2000, func(c, i int) (int64, error) {
			return g.NextWithTag(t.Context(), int16(rand.IntN(MaxTag+1)))
		})
		checkIDs(t, ids)
	})
}

// Next allocates nothing.
func TestNextAllocs(t *testing.T) {
	g, c := newAt(t, 0, 0)
	ctx := context.Background()
	n := testing.AllocsPerRun(1000, func() {
		c.add(time.Millisecond)
		if _, err := g.NextWithTag(ctx, 3); err != nil {
			t.Fatal(err)
		}
	})
	if n != 0 {
		t.Errorf("Next allocates %v times per id, want 0", n)
	}
}

// BenchmarkNext: one caller on the real clock (bounded by 4,096 ids per ms).
func BenchmarkNext(b *testing.B) {
	g, _ := New(0, nil, time.Second)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := g.Next(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNextParallel: every core on the real clock.
func BenchmarkNextParallel(b *testing.B) {
	g, _ := New(0, nil, time.Second)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := g.Next(ctx); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkNextCost: the cost of one id alone, on a clock that never holds
// it back.
func BenchmarkNextCost(b *testing.B) {
	c := &fakeClock{}
	g, _ := New(0, c.now, 0)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		c.add(time.Millisecond)
		if _, err := g.Next(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNextRandomTags: one caller on the real clock taking tags 0 and 1
// at random: a smaller tag after a larger one in the same ms costs a ms.
func BenchmarkNextRandomTags(b *testing.B) {
	g, _ := New(0, nil, time.Second)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := g.NextWithTag(ctx, int16(rand.IntN(2))); err != nil {
			b.Fatal(err)
		}
	}
}
