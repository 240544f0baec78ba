package memcache

import (
	"context"

	"github.com/fae-sidecar/fae/internal/hist"
	"github.com/fae-sidecar/fae/upstream/breaker"
)

// What an operator asks of a running pool: its servers' state, where a key
// lives, the latency of its round trips, and whether requests are still in
// flight (before a reload closes it). All of it reads what the request path
// keeps anyway (atomics, or the loops' own state on the loops); none of it
// costs a request anything.

// ServerState is one server of a pool as its connections see it.
type ServerState struct {
	Addr string
	// Failover is set for a server of the failover list.
	Failover bool
	// Up: at least one connection is ready (see pipeline.Pipeline.Down).
	Up bool
	// Ready is the number of ready connections, of both transports.
	Ready int
	// Timeouts counts the connections cut because a reply was late.
	Timeouts uint64
	// Breaker is the state and counters of the server's breaker; nil
	// without Config.Breaker.
	Breaker *breaker.Stats
}

// Servers reports the state of every server, the failover ones last. Safe
// for concurrent use.
func (p *Pool) Servers() []ServerState {
	out := make([]ServerState, 0, len(p.servers))
	for i, s := range p.servers {
		r := p.pipe.Ready(i)
		st := ServerState{
			Addr: s.addr, Failover: i >= len(p.cfg.Servers),
			Up: r > 0, Ready: r, Timeouts: p.pipe.Timeouts(i),
		}
		if s.brk != nil {
			bs := s.brk.Stats()
			st.Breaker = &bs
		}
		out = append(out, st)
	}
	return out
}

// Owner returns the server key is placed on, and, when that server is down
// (or its breaker refuses requests) and the pool has failover servers, the
// one that takes its keys meanwhile (else ""). A key is placed as a request for it is: hash_skip_prefix
// applies.
func (p *Pool) Owner(key []byte) (server, failover string) {
	s := p.pick.Pick(key)
	server = p.servers[s].addr
	if p.failover != nil {
		if f := p.failoverOf(key, s); f != s {
			failover = p.servers[f].addr
		}
	}
	return server, failover
}

// Latency adds the durations of the pool's round trips to s: from the
// moment a request is queued on a connection to the moment its reply is
// read, per request (a multi-get split over servers counts once per
// server).
func (p *Pool) Latency(s *hist.Snapshot) { p.pipe.Latency(s) }

// Pending returns the number of clients' requests queued or in flight on
// the pool's connections (health probes not counted). The loop transport's
// connections are counted on their loops, so a request a loop was queueing
// when Pending was called is counted. It returns early with ctx's error.
func (p *Pool) Pending(ctx context.Context) (int, error) { return p.pipe.Pending(ctx) }
