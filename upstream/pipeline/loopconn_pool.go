package pipeline

import (
	"context"
	"sync/atomic"

	"github.com/panjf2000/gnet/v2"

	"github.com/fae-sidecar/fae/eventloop"
	"github.com/fae-sidecar/fae/internal/hist"
)

// The loop transport (Config.Loops). Each event loop that asks for a Lane
// gets its own connections to every server (LoopConns each), registered
// into that loop, so that the whole round trip runs on the loop:
//
//   - Enqueue encodes the request into the connection's buffer and queues
//     its op (no lock: the loop owns everything here);
//   - when the loop's event ends, Flush writes each connection's buffer
//     once (Loop.Defer), so a pipelined batch costs one write; while
//     requests are in flight, new ones that come within HoldFor of the
//     last write wait for the server's next bytes (lconn.write), so under
//     load many clients' requests share a write;
//   - the replies arrive in the connection's OnTraffic on the same loop,
//     are framed straight out of gnet's inbound buffer (Op.Scan), and
//     handed over on the loop (Op.Done); a pool answers its clients with
//     DoneOnLoop, and the server then writes each client once.
//
// A client connection stays on its loop, so a caller that picks the
// connection by key keeps a client's requests for a key in order. Timeouts, health probes, suspicion after a sibling's timeout and
// failing fast while down work as on the goroutine transport (goconn.go,
// goconn_health.go); the loop is visited by the pipeline's watchdog through
// EventLoop.Execute. Dialling is the one thing done off the loop: each
// connection has a dialer goroutine (lconn.dialLoop) that dials,
// hands the socket to the loop (EventLoop.Enroll) and waits for the session
// to end.

// Lane is the loop transport's connections on one event loop (see
// Pipeline.Lane). It is owned by the loop (until the loop stops: then by
// Pipeline.Close).
type Lane struct {
	p     *Pipeline
	loop  eventloop.Loop
	conns []*lconn // server s's connection j is conns[s*LoopConns+j]
	// dirty lists the connections with requests to write when the
	// loop's event ends; deferred says the lane is on the loop's deferred
	// list.
	dirty    []*lconn
	deferred bool
	closed   bool
	check    gnet.Runnable // the watchdog's visit, built once

	// quiet: nothing was queued at the last visit, nor since. A quiet loop
	// needs no timeout checks, so the watchdog, which sees quietFlag,
	// visits it only for health probes; each visit wakes the loop.
	quiet     bool
	quietFlag atomic.Bool
	nextVisit int64 // clock() of the next visit of a quiet loop; the watchdog's

	lat hist.H // round trips of the loop's requests (Latency)
}

var _ eventloop.Flusher = (*Lane)(nil)

// newLane makes the pipeline's lane on loop l and starts dialling its
// connections. It runs on l, under the PerLoop lock.
func (p *Pipeline) newLane(l eventloop.Loop) *Lane {
	lp := &Lane{p: p, loop: l}
	lp.check = gnet.RunnableFunc(func(context.Context) error {
		lp.visit(p.clock())
		return nil
	})
	for _, s := range p.servers {
		for range p.cfg.LoopConns {
			lp.conns = append(lp.conns, newLConn(lp, s))
		}
	}
	if p.closing.Load() {
		// Close has already gone over the loops: this one is born closed.
		lp.closed = true
		for _, lc := range lp.conns {
			lc.state, lc.why = stateClosed, ReasonPoolClosed
		}
		return lp
	}
	for _, lc := range lp.conns {
		p.wg.Add(1)
		go lc.dialLoop()
	}
	return lp
}

// enqueue encodes o into connection cn's buffer and queues it for its
// reply; the bytes leave when the loop's event ends. It returns why it
// could not.
func (lp *Lane) enqueue(cn int, o Op) Reason {
	lc := lp.conns[cn]
	now := lp.p.clock()
	if lc.seen != lc.srv.suspects.Load() {
		lc.suspect(now)
	}
	switch lc.state {
	case stateReady, stateConnecting:
	case stateDown:
		if lc.srv.ready.Load() > 0 {
			// Other connections have the server up again: do not wait
			// out this one's backoff.
			lc.hurryDial()
		}
		return lc.why
	default:
		return lc.why
	}
	if lc.n-lc.probes >= lp.p.cfg.MaxPending {
		return ReasonQueueFull
	}
	waiting := lc.outbound()
	prev := len(lc.out)
	lc.out = o.Encode(lc.out)
	if waiting+len(lc.out) > lp.p.cfg.MaxPendingSize && waiting+prev > 0 {
		lc.out = lc.out[:prev]
		return ReasonQueueFull
	}
	lc.push(entry{op: o, enq: now})
	lc.lastUse = now
	lp.markDirty(lc)
	return ReasonNone
}

// markDirty has lc's buffer written when the loop's event ends.
func (lp *Lane) markDirty(lc *lconn) {
	if lc.dirty {
		return
	}
	lc.dirty = true
	lp.dirty = append(lp.dirty, lc)
	if !lp.deferred {
		lp.deferred = true
		lp.loop.Defer(lp)
	}
}

// Flush implements eventloop.Flusher: at the end of the loop's event, each
// connection with new requests writes them in one write.
func (lp *Lane) Flush() {
	lp.deferred = false
	for i := 0; i < len(lp.dirty); i++ {
		lc := lp.dirty[i]
		lc.dirty = false
		lc.write()
	}
	clear(lp.dirty)
	lp.dirty = lp.dirty[:0]
}

// visit is the watchdog's check of every connection of the loop.
func (lp *Lane) visit(now int64) {
	if lp.closed {
		return
	}
	quiet := true
	for _, lc := range lp.conns {
		lc.check(now)
		quiet = quiet && lc.n == 0
	}
	lp.quiet = quiet
	lp.quietFlag.Store(quiet)
	lp.loop.Flush()
}

// busy notes that something was queued (lc.push).
func (lp *Lane) busy() {
	lp.quiet = false
	lp.quietFlag.Store(false)
}

// close fails everything queued on the loop's connections with
// ReasonPoolClosed, closes them and refuses requests from now on. It runs on the
// loop, or after the loop has stopped.
func (lp *Lane) close() {
	lp.closed = true
	for _, lc := range lp.conns {
		if lc.state == stateReady {
			lc.srv.ready.Add(-1)
		}
		lc.state, lc.why = stateClosed, ReasonPoolClosed
		if lc.gc != nil {
			lc.endWhy = ReasonPoolClosed
			// OnClose, from within this call, fails what is queued. A
			// stopped loop ignores it: its connections are closed.
			_ = lp.loop.EventLoop().Close(lc.gc)
		}
		lc.failAll(ReasonPoolClosed)
	}
}

// checkLoops has every loop visited by the watchdog (on the loop).
func (p *Pipeline) checkLoops() {
	if p.loops == nil {
		return
	}
	now := p.clock()
	p.loops.All(func(l eventloop.Loop, lp *Lane) {
		if lp.quietFlag.Load() && now < lp.nextVisit {
			return
		}
		lp.nextVisit = now + int64(p.cfg.HealthInterval)/4
		_ = l.EventLoop().Execute(context.Background(), lp.check)
	})
}

// closeLoops is Pipeline.Close's part for the loop transport: each loop fails
// what is queued on its connections and closes them; a loop that has
// stopped is done with by Close itself.
func (p *Pipeline) closeLoops() {
	if p.loops == nil {
		return
	}
	p.loops.All(func(l eventloop.Loop, lp *Lane) {
		done := make(chan struct{})
		err := l.EventLoop().Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
			lp.close()
			l.Flush()
			close(done)
			return nil
		}))
		if err == nil {
			select {
			case <-done:
				return
			case <-l.Stopped():
			}
		}
		// The engine is stopping: once the loop has stopped, what it owned
		// is ours.
		<-l.Stopped()
		lp.close()
	})
}
