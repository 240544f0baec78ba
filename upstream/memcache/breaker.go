package memcache

import (
	"github.com/fae-sidecar/fae/proto/memcache"
	"github.com/fae-sidecar/fae/upstream/breaker"
	"github.com/fae-sidecar/fae/upstream/pipeline"
)

// Breakers (Config.Breaker): one per server, failover servers included,
// shared by both transports and every event loop (it is a few atomics).
//
// Where it sits: a request asks its server's breaker (Allow) just before it
// is queued on the server's connection (enqueue), and the ticket rides in
// the op until the op is answered: Done (any reply of the server) reports
// a success, Fail (timeout, connection refused, cut or broken, queue full,
// pool closed) and a refused Enqueue a failure. So every request counts
// once, on whichever transport or part of a multi-get it travelled, and
// the pipeline's health probes do not count (they are the pipeline's own
// business: they decide when a connection is ready, the breaker when
// requests are sent).
//
// What an open breaker changes: its server's requests are not sent. With
// failover servers, placement (partOf) treats a server whose breaker
// refuses as down, so its keys go to their failover server at once, as for
// a server with no ready connection; without, the request (or its part of
// a multi-get) is answered at once with the server's "breaker open" line.
// When the sleep window is over, placement sees the breaker no longer
// refusing and sends the next request to the server; Allow makes it the
// half-open probe, alone, as in hystrix, and its reply closes the breaker.
// Placement and admission are two steps: a request placed in the instant
// between another's probe and its own Allow finds the breaker refusing at
// admission. With failover servers enqueue then sends it to its keys'
// failover server (breakerFailover), as placement would have a moment
// later; without, it is answered with the "breaker open" line, as any
// request the breaker refuses.

// reasonBreakerOpen is the pool's own reason, past the pipeline's, for a
// request its server's open breaker refused: server.lines holds its line.
const reasonBreakerOpen = pipeline.NumReasons

// numLines is the number of prebuilt SERVER_ERROR lines of a server.
const numLines = pipeline.NumReasons + 1

// refusing reports whether s's breaker refuses requests now (false without
// breakers).
func (s *server) refusing() bool { return s.brk != nil && s.brk.Refusing() }

// allow asks s's breaker whether a request may be sent, and gives the
// ticket to report its outcome with; without breakers every request goes.
func (s *server) allow() (breaker.Ticket, bool) {
	if s.brk == nil {
		return breaker.Ticket{}, true
	}
	t := s.brk.Allow()
	return t, t.OK()
}

// report hands the outcome of a request that allow let through to s's
// breaker.
func (s *server) report(t breaker.Ticket, success bool) {
	if s.brk != nil {
		s.brk.Done(t, success)
	}
}

// breakerFailover returns the connection number, on pt's transport, that
// takes r when the breaker of r's server srv refused it at admission: the
// failover server of r's keys, where partOf would have placed them had it
// seen the breaker refusing. It reports false when there is none: srv is a
// failover server itself, the pool has none, r has no key (flush_all), or
// the keys of a multi-get part have different failover servers (the part
// is then refused, its keys misses, as without failover servers).
func (p *Pool) breakerFailover(r *memcache.Request, srv int, pt path) (int, bool) {
	if p.failover == nil || srv >= len(p.cfg.Servers) || len(r.Keys) == 0 {
		return 0, false
	}
	if r.Cmd.IsMeta() {
		return p.placeMeta(r, pt, (*Pool).failoverPart), true
	}
	cn := p.failoverPart(r.Keys[0], pt)
	for _, k := range r.Keys[1:] {
		if p.failoverPart(k, pt) != cn {
			return 0, false
		}
	}
	return cn, true
}

// failoverPart numbers the connection of pt's transport that carries key
// on its failover server (see partOf).
func (p *Pool) failoverPart(key []byte, pt path) int {
	n := p.perServer(pt)
	return (len(p.cfg.Servers)+p.failover.Pick(key))*n + connOf(key, n)
}

// breakerStats reports the servers whose breaker is open or half-open now
// (servers_breaker_open), the times they opened (breaker_opens) and the
// requests they answered at once (breaker_rejected), over every server.
func (p *Pool) breakerStats(add func(string, uint64)) {
	var open, opens, rejected uint64
	for _, s := range p.servers {
		st := s.brk.Stats()
		if st.State != breaker.Closed {
			open++
		}
		opens += st.Opens
		rejected += st.Rejected
	}
	add("servers_breaker_open", open)
	add("breaker_opens", opens)
	add("breaker_rejected", rejected)
}
