package mongo

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// ShardStats are one shard's counters since the pool started.
type ShardStats struct {
	Shard    int
	Calls    uint64 // calls sent to the server
	Errors   uint64 // of those, the ones that failed (a miss is no failure)
	Timeouts uint64 // of the errors, the ones without an answer within Timeout
	Refused  uint64 // calls refused at once: MaxConns calls in flight
	Rejected uint64 // calls refused at once: breaker open
	InFlight uint64
	Open     bool // the breaker refuses calls now
	// Latency of the calls sent, in microseconds.
	MeanUS, P50US, P99US, MaxUS uint64
}

// shardStats counts one shard's calls; latencies go to a histogram under
// a lock (these calls take a network round trip: the lock is not what
// they wait for).
type shardStats struct {
	calls, errors, timeouts, refused, rejected atomic.Uint64

	mu  sync.Mutex
	lat *hdrhistogram.Histogram // microseconds, 1us to 10min
}

func newShardStats() *shardStats {
	return &shardStats{lat: hdrhistogram.New(1, int64(10*time.Minute/time.Microsecond), 3)}
}

func (s *shardStats) record(took time.Duration, failed, timeout bool) {
	s.calls.Add(1)
	if failed {
		s.errors.Add(1)
	}
	if timeout {
		s.timeouts.Add(1)
	}
	us := max(int64(took/time.Microsecond), 1)
	s.mu.Lock()
	_ = s.lat.RecordValue(us) // a value past the range is dropped
	s.mu.Unlock()
}

func (s *shardStats) snapshot(shard int) ShardStats {
	st := ShardStats{Shard: shard, Calls: s.calls.Load(), Errors: s.errors.Load(), Timeouts: s.timeouts.Load(),
		Refused: s.refused.Load(), Rejected: s.rejected.Load()}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lat.TotalCount() > 0 {
		st.MeanUS = uint64(s.lat.Mean())
		st.P50US = uint64(s.lat.ValueAtQuantile(50))
		st.P99US = uint64(s.lat.ValueAtQuantile(99))
		st.MaxUS = uint64(s.lat.Max())
	}
	return st
}

// Stats returns every shard's counters, by shard id.
func (p *Pool) Stats() []ShardStats {
	out := make([]ShardStats, len(p.shards))
	for i, s := range p.shards {
		out[i] = s.stats.snapshot(i)
		out[i].InFlight = uint64(len(s.slots))
		out[i].Open = s.breaker.Open()
	}
	return out
}

// AppendStats reports the shards' counters as memcached-style statistics
// named mongo:POOL:SHARD:NAME (as memcached's "items:CLASS:NAME").
func (p *Pool) AppendStats(add func(name string, value uint64)) {
	for _, st := range p.Stats() {
		prefix := "mongo:" + p.cfg.Name + ":" + strconv.Itoa(st.Shard) + ":"
		open := uint64(0)
		if st.Open {
			open = 1
		}
		for _, kv := range []struct {
			name string
			v    uint64
		}{
			{"calls", st.Calls}, {"errors", st.Errors}, {"timeouts", st.Timeouts},
			{"refused", st.Refused}, {"rejected", st.Rejected}, {"in_flight", st.InFlight},
			{"breaker_open", open}, {"latency_mean_us", st.MeanUS}, {"latency_p50_us", st.P50US},
			{"latency_p99_us", st.P99US}, {"latency_max_us", st.MaxUS},
		} {
			add(prefix+kv.name, kv.v)
		}
	}
}
