package lagrelay

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// lateBuckets is the number of buckets of Stats.Late: bucket 0 counts
// chunks written less than 1µs past due, bucket i (i >= 1) those written
// [2^(i-1), 2^i) µs past due; the last one everything later.
const lateBuckets = 24

// Stats are a Relay's counters since Listen.
type Stats struct {
	Accepted uint64 `json:"accepted"` // connections accepted
	Open     int64  `json:"open"`     // relayed connections open now
	Refused  uint64 `json:"refused"`  // accepted connections closed because the upstream could not be reached
	Chunks   uint64 `json:"chunks"`   // chunks written, both directions (a FIN counts as none)
	Bytes    uint64 `json:"bytes"`    // bytes written, both directions
	Queued   int64  `json:"queued"`   // bytes read and not yet written, now
	Paused   uint64 `json:"paused"`   // times a direction stopped reading because MaxQueued bytes were held
	// HoldMin, HoldMax and HoldSum are how long written chunks were held,
	// from their read to the end of their write: at least Delay.
	HoldMin time.Duration `json:"hold_min_ns"`
	HoldMax time.Duration `json:"hold_max_ns"`
	HoldSum time.Duration `json:"hold_sum_ns"`
	// Late counts written chunks by how far past their due time the write
	// ended: the loop's wake-up latency and the writes queued before them
	// (see lateBuckets).
	Late [lateBuckets]uint64 `json:"late"`
}

// HoldMean is HoldSum over Chunks.
func (s *Stats) HoldMean() time.Duration {
	if s.Chunks == 0 {
		return 0
	}
	return s.HoldSum / time.Duration(s.Chunks)
}

// LateQuantile returns an upper bound of the q-quantile (0 <= q <= 1) of
// how late chunks were written: the upper edge of the bucket it falls in.
func (s *Stats) LateQuantile(q float64) time.Duration {
	var total uint64
	for _, n := range s.Late {
		total += n
	}
	if total == 0 {
		return 0
	}
	rank := uint64(q * float64(total))
	var seen uint64
	for i, n := range s.Late {
		seen += n
		if seen > rank || i == len(s.Late)-1 {
			return time.Duration(uint64(1)<<i) * time.Microsecond
		}
	}
	return 0 // not reached
}

// counters are the Stats the loop updates, one writer; Stats reads them
// from any goroutine.
type counters struct {
	accepted, refused, chunks, bytes, paused atomic.Uint64
	open, queued                             atomic.Int64
	holdMin, holdMax, holdSum                atomic.Int64
	late                                     [lateBuckets]atomic.Uint64
}

// written records one chunk of n bytes held for hold and written late past
// its due time.
func (c *counters) written(n int, hold, late int64) {
	c.chunks.Add(1)
	c.bytes.Add(uint64(n))
	c.holdSum.Add(hold)
	// Why plain load-then-store: the loop is the only writer.
	if m := c.holdMin.Load(); m == 0 || hold < m {
		c.holdMin.Store(hold)
	}
	if hold > c.holdMax.Load() {
		c.holdMax.Store(hold)
	}
	c.late[min(bits.Len64(uint64(max(late, 0))/1000), lateBuckets-1)].Add(1)
}

func (c *counters) snapshot() Stats {
	s := Stats{
		Accepted: c.accepted.Load(), Open: c.open.Load(), Refused: c.refused.Load(),
		Chunks: c.chunks.Load(), Bytes: c.bytes.Load(), Queued: c.queued.Load(), Paused: c.paused.Load(),
		HoldMin: time.Duration(c.holdMin.Load()), HoldMax: time.Duration(c.holdMax.Load()),
		HoldSum: time.Duration(c.holdSum.Load()),
	}
	for i := range s.Late {
		s.Late[i] = c.late[i].Load()
	}
	return s
}
