package memcache

import (
	"fmt"
	"slices"
	"sync"

	"github.com/fae-sidecar/fae/eventloop"
	"github.com/fae-sidecar/fae/proto/memcache"
	"github.com/fae-sidecar/fae/upstream"
	"github.com/fae-sidecar/fae/upstream/breaker"
	"github.com/fae-sidecar/fae/upstream/memcache/placement"
	"github.com/fae-sidecar/fae/upstream/pipeline"
)

// Pool forwards requests to a set of memcached servers. It implements
// upstream.Pool and is safe for concurrent use. Create it with New; Close
// stops its goroutines and fails what is still queued.
type Pool struct {
	cfg     Config
	pick    placer    // cfg.Servers
	servers []*server // cfg.Servers, then cfg.Failover
	flushNo []byte    // the reply to flush_all when !cfg.AllowFlush

	// failover picks among the failover servers (servers[len(cfg.Servers):])
	// the one that takes a key whose server is down; nil without Failover.
	failover placer

	// pipe carries the requests: its server i is servers[i].
	pipe *pipeline.Pipeline

	st      counters
	ops     sync.Pool // *op: taken in Serve, put back after the reply is handed over
	gathers sync.Pool // *gather: same lifetime, for fanned-out requests
	keyBufs sync.Pool // *[memcache.MaxMetaKey]byte: taken and put back in metaPart, for a key ItemKey must decode

	// loopOps recycles the ops of the requests of each event loop that
	// sent one on the loop transport, without locks; nil with
	// TransportGoroutine.
	loopOps *eventloop.PerLoop[loopOps]
}

var _ upstream.Pool = (*Pool)(nil)

// placer maps a key to the index of the server that owns it, among the
// servers it was built over (a placement.Map). It is the only thing the
// pool knows about key placement. Safe for concurrent use; Pick must not
// allocate.
type placer interface {
	Pick(key []byte) int
}

// server is one memcached server of the pool.
type server struct {
	addr string
	// lines holds the prebuilt SERVER_ERROR line for each reason (the
	// pipeline's, and reasonBreakerOpen), so that failing fast does not
	// allocate.
	lines [numLines][]byte
	// brk is the server's circuit breaker (breaker.go); nil without
	// Config.Breaker.
	brk *breaker.Breaker
}

// New validates cfg, applies its defaults and starts connecting to the
// servers in the background. Requests served before a connection is up wait
// for it (up to Timeout); once a server is known to be down, its keys fail
// at once.
func New(cfg Config) (*Pool, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	p := &Pool{
		cfg:     cfg,
		pick:    placement.New(cfg.Distribution, cfg.Servers).SkipPrefix(cfg.HashSkipPrefix),
		flushNo: []byte("SERVER_ERROR flush_all disabled for this pool\r\n"),
	}
	p.ops.New = func() any { return &op{p: p} }
	p.gathers.New = func() any { return &gather{p: p} }
	p.keyBufs.New = func() any { return new([memcache.MaxMetaKey]byte) }
	if len(cfg.Failover) > 0 {
		p.failover = placement.New(cfg.Distribution, cfg.Failover).SkipPrefix(cfg.HashSkipPrefix)
	}
	if cfg.Transport == TransportLoop {
		p.loopOps = &eventloop.PerLoop[loopOps]{New: func(eventloop.Loop) *loopOps { return &loopOps{} }}
	}
	clock := cfg.clock
	if cfg.Breaker != nil && clock == nil {
		clock = breaker.SystemClock() // one for the pool's breakers
	}
	var addrs []string
	for _, sc := range slices.Concat(cfg.Servers, cfg.Failover) {
		s := &server{addr: sc.Addr}
		for r := range pipeline.NumReasons {
			s.lines[r] = fmt.Appendf(nil, "SERVER_ERROR upstream %s %s\r\n", sc.Addr, r)
		}
		s.lines[reasonBreakerOpen] = fmt.Appendf(nil, "SERVER_ERROR upstream %s breaker open\r\n", sc.Addr)
		if cfg.Breaker != nil {
			s.brk = breaker.New(*cfg.Breaker, clock)
		}
		p.servers = append(p.servers, s)
		addrs = append(addrs, sc.Addr)
	}
	pc := cfg.pipelineConfig()
	pc.Servers, pc.Probe = addrs, p.newProbe
	p.pipe = pipeline.New(pc)
	return p, nil
}

// Serve implements upstream.Pool. Every request it takes over is answered
// exactly once, never from within Serve: on the loop transport by
// DoneOnLoop on the waiter's loop, else by w.Done from a connection's reader
// goroutine or from the goroutine that fails it.
func (p *Pool) Serve(req *memcache.Request, out []byte, w upstream.Waiter) ([]byte, bool) {
	p.st.countServe(req)
	pt := p.pathOf(w)
	switch {
	case req.Cmd.IsRetrieval():
		return p.serveGet(req, out, w, pt)
	case req.Cmd.IsMeta() && len(req.Keys) == 1:
		return p.serveOne(req, out, w, pt, metaKind(req), p.metaPart(req, pt))
	case (req.Cmd.HasKey() || req.Cmd == memcache.CmdLock || req.Cmd == memcache.CmdUnlock) && len(req.Keys) == 1:
		// lock and unlock reach a pool only as peer links (a cluster
		// pool's lease at another sidecar): one line each way.
		return p.serveOne(req, out, w, pt, memcache.FrameLine, p.partOf(req.Keys[0], pt))
	case req.Cmd == memcache.CmdFlushAll:
		return p.serveFlush(req, out, w, pt)
	}
	// version, stats, verbosity and quit are the server's to answer.
	return append(out, memcache.ReplyError...), false
}

// path is the transport a request takes: the loop transport on lane,
// answering lw on its loop (its ops recycled in ops), when lane is set;
// else the goroutine transport.
type path struct {
	lane *pipeline.Lane
	ops  *loopOps
	lw   upstream.LoopWaiter
}

// pathOf picks the transport of a request answered to w.
func (p *Pool) pathOf(w upstream.Waiter) path {
	if p.loopOps == nil {
		return path{}
	}
	lw, ok := w.(upstream.LoopWaiter)
	if !ok {
		return path{}
	}
	l := lw.Loop()
	lane := p.pipe.Lane(l) // nil when l is, or once the pool is closing
	if lane == nil {
		return path{}
	}
	return path{lane: lane, ops: p.loopOps.Get(l), lw: lw}
}

// perServer is the number of connections to each server on pt's
// transport: connection number cn (see partOf) is server cn/perServer's
// connection cn%perServer.
func (p *Pool) perServer(pt path) int { return p.pipe.PerServer(pt.lane) }

// enqueue queues r, for op o, on connection number cn of pt's transport,
// if its server's breaker lets it through, else on the failover server of
// r's keys (breakerFailover). It returns why it could not (reasonBreakerOpen:
// a breaker refused it); o.srv is then the server that did not take it.
func (p *Pool) enqueue(pt path, cn int, r *memcache.Request, o *op) pipeline.Reason {
	n := p.perServer(pt)
	o.srv = cn / n
	s := p.servers[o.srv]
	var ok bool
	if o.ticket, ok = s.allow(); !ok {
		if cn, ok = p.breakerFailover(r, o.srv, pt); !ok {
			return reasonBreakerOpen
		}
		o.srv = cn / n
		s = p.servers[o.srv]
		if o.ticket, ok = s.allow(); !ok {
			return reasonBreakerOpen
		}
	}
	o.req = *r
	why := p.pipe.Enqueue(pt.lane, cn, o)
	if why != pipeline.ReasonNone {
		s.report(o.ticket, false)
	}
	return why
}

// serveOne forwards req, whose keys all live on connection number cn (see
// partOf), as one request.
func (p *Pool) serveOne(req *memcache.Request, out []byte, w upstream.Waiter, pt path, kind memcache.FrameKind, cn int) ([]byte, bool) {
	o := p.getOp(pt)
	o.w, o.cmd, o.stat, o.origin, o.f, o.nkeys = w, req.Cmd, statOf(req), req.Origin, memcache.Frame{Kind: kind}, len(req.Keys)
	o.noReply = req.NoReply
	// Always ask for a reply, so that every request sent has one to match;
	// a meta command's q is applied to the reply instead (see answer).
	sub := *req
	sub.NoReply = false
	o.quiet = req.Meta.Quiet()
	sub.Meta = sub.Meta.Loud(req.Cmd)
	if why := p.enqueue(pt, cn, &sub, o); why != pipeline.ReasonNone {
		s := p.servers[o.srv]
		p.putOp(o)
		return p.failNow(out, s, why, req.NoReply), false
	}
	return out, true
}

// serveGet forwards a retrieval: as one request when its keys share a
// connection, else split per connection and merged (gather).
func (p *Pool) serveGet(req *memcache.Request, out []byte, w upstream.Waiter, pt path) ([]byte, bool) {
	switch {
	case len(req.Keys) == 0:
		return append(out, memcache.ReplyError...), false
	case len(req.Keys) == 1:
		return p.serveOne(req, out, w, pt, memcache.FrameValues, p.partOf(req.Keys[0], pt))
	}
	g := p.getGather()
	for _, k := range req.Keys {
		g.addKey(p.partOf(k, pt))
	}
	if len(g.parts) == 1 {
		cn := g.conns[0]
		p.putGather(g)
		return p.serveOne(req, out, w, pt, memcache.FrameValues, cn)
	}
	return g.serveGet(req, out, w, pt)
}

// serveFlush sends flush_all to every server (on its first connection).
func (p *Pool) serveFlush(req *memcache.Request, out []byte, w upstream.Waiter, pt path) ([]byte, bool) {
	if !p.cfg.AllowFlush {
		if req.NoReply {
			return out, false
		}
		return append(out, p.flushNo...), false
	}
	g := p.getGather()
	for i := range p.servers {
		g.addKey(i * p.perServer(pt))
	}
	return g.serveFlush(req, out, w, pt)
}

// failNow answers a request that could not be queued.
func (p *Pool) failNow(out []byte, s *server, why pipeline.Reason, noReply bool) []byte {
	p.st.errors.Add(1)
	if why == pipeline.ReasonQueueFull {
		p.st.rejected.Add(1)
	}
	if noReply {
		return out
	}
	return append(out, s.lines[why]...)
}

// connOf picks which of a server's n connections carries key. The same key
// always takes the same connection (while it is up), so a client's pipelined
// "set k" then "get k" reach memcached in that order: memcached orders
// requests within a connection only.
func connOf(key []byte, n int) int {
	if n == 1 {
		return 0
	}
	// FNV-1a: cheap, and independent of the ring's MD5.
	h := uint32(2166136261)
	for _, c := range key {
		h ^= uint32(c)
		h *= 16777619
	}
	return int(h % uint32(n))
}

// partOf numbers the connection of pt's transport that carries key:
// server*perServer + conn.
func (p *Pool) partOf(key []byte, pt path) int {
	s := p.pick.Pick(key)
	if p.failover != nil && (p.pipe.Ready(s) == 0 || p.servers[s].refusing()) {
		s = p.failoverOf(key, s)
	}
	n := p.perServer(pt)
	return s*n + connOf(key, n)
}

// metaPart is partOf for a meta request: a base64 key (flag b) is placed
// by its decoded bytes, where a client that hashes raw key bytes
// (libmemcached, or faed's binary protocol, which sends such keys in
// base64) would place the same key.
func (p *Pool) metaPart(req *memcache.Request, pt path) int {
	return p.placeMeta(req, pt, (*Pool).partOf)
}

// placeMeta places a meta request by its item key with place (partOf, or
// failoverPart).
func (p *Pool) placeMeta(req *memcache.Request, pt path, place func(*Pool, []byte, path) int) int {
	if !req.Meta.Has('b') {
		return place(p, req.Keys[0], pt)
	}
	// A parsed request holds its decoded key, and so does one built with
	// SetItemKey: no buffer is needed then.
	if key, ok := req.ItemKey(nil); ok {
		return place(p, key, pt)
	}
	// The placer is an interface, so a key buffer on the stack would
	// escape: keyBufs lends one for the call.
	buf := p.keyBufs.Get().(*[memcache.MaxMetaKey]byte)
	key, _ := req.ItemKey(buf[:])
	cn := place(p, key, pt)
	p.keyBufs.Put(buf)
	return cn
}

// Stats implements upstream.Pool.
func (p *Pool) Stats(add func(name string, value uint64)) {
	timeouts, reconnects := p.pipe.Stats()
	p.st.report(add, timeouts, reconnects)
	var up uint64
	for i := range p.servers {
		if p.pipe.Ready(i) > 0 {
			up++
		}
	}
	add("servers", uint64(len(p.servers)))
	add("servers_up", up)
	if p.cfg.Breaker != nil {
		p.breakerStats(add)
	}
}

// Redial has the connections to every server of the pool that wait
// between connection attempts dial now, instead of failing requests fast
// until their backoff ends: its caller learned that the servers are back (a
// peer link whose peer the membership reports up again). Safe for
// concurrent use; it closes nothing.
func (p *Pool) Redial() {
	for i := range p.servers {
		p.pipe.Redial(i)
	}
}

// Close stops every goroutine of the pool and fails what is still queued
// with "SERVER_ERROR … pool closed". Requests served after Close fail at
// once. It waits for the goroutines to end and always returns nil.
func (p *Pool) Close() error {
	p.pipe.Close()
	return nil
}
