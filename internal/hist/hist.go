package hist

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// Buckets is the number of buckets: upper bounds 16µs, 32µs, … 1.048576s
// (2^4 to 2^20 µs), then one without a bound.
const Buckets = 18

// firstShift is log2 of the first bound in microseconds.
const firstShift = 4

// Bound is the upper bound of bucket i, which holds the durations d with
// Bound(i-1) < d <= Bound(i); the last bucket has none (0).
func Bound(i int) time.Duration {
	if i >= Buckets-1 {
		return 0
	}
	return time.Duration(1<<(i+firstShift)) * time.Microsecond
}

// H is a histogram of durations. The zero value is empty and ready; it is
// safe for concurrent use. Keep one per goroutine or event loop that
// observes, where it can: atomic adds on a cache line no one else writes
// cost a few nanoseconds.
type H struct {
	counts [Buckets]atomic.Uint64
	sum    atomic.Uint64 // nanoseconds
}

// Observe counts one duration of ns nanoseconds (a negative one as 0).
func (h *H) Observe(ns int64) {
	ns = max(ns, 0)
	h.counts[index(ns)].Add(1)
	h.sum.Add(uint64(ns))
}

// index is the bucket of a duration of ns nanoseconds.
func index(ns int64) int {
	us := uint64(ns+999) / 1000 // rounded up: 16.5µs is over 16µs
	if us <= 1<<firstShift {
		return 0
	}
	return min(bits.Len64(us-1)-firstShift, Buckets-1)
}

// Snapshot is a histogram read: the count of each bucket (not cumulative)
// and the sum of the durations.
type Snapshot struct {
	Counts [Buckets]uint64
	Sum    time.Duration
}

// AddTo adds h's counts to s. Buckets are read one by one, not as one
// snapshot: a concurrent Observe may be in the sum and not in a count yet.
func (h *H) AddTo(s *Snapshot) {
	for i := range h.counts {
		s.Counts[i] += h.counts[i].Load()
	}
	s.Sum += time.Duration(h.sum.Load())
}

// Count is the number of durations in s.
func (s *Snapshot) Count() uint64 {
	var n uint64
	for _, c := range s.Counts {
		n += c
	}
	return n
}

// Quantile estimates the q-quantile (0 < q <= 1) of s by linear
// interpolation within its bucket, as Prometheus's histogram_quantile does;
// a quantile in the last bucket is reported as the last bound. 0 when s is
// empty.
func (s *Snapshot) Quantile(q float64) time.Duration {
	n := s.Count()
	if n == 0 {
		return 0
	}
	rank := q * float64(n)
	var seen float64
	for i, c := range s.Counts {
		if c == 0 || seen+float64(c) < rank {
			seen += float64(c)
			continue
		}
		if i == Buckets-1 {
			return Bound(Buckets - 2)
		}
		lo := time.Duration(0)
		if i > 0 {
			lo = Bound(i - 1)
		}
		hi := Bound(i)
		return lo + time.Duration(float64(hi-lo)*(rank-seen)/float64(c))
	}
	return Bound(Buckets - 2)
}
