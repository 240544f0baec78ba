package server

import (
	"github.com/panjf2000/gnet/v2"

	"github.com/fae-sidecar/fae/eventloop"
	"github.com/fae-sidecar/fae/proto/thrift"
)

// Loop-local upstreams (see eventloop.Loop): a pool may register its own
// connections into the server's event loops. Their gnet context is an
// eventloop.Conn, which gets their events; they are not clients (not
// counted, never refused, no stats). A reply a pool finishes on the loop
// (slot.DoneOnLoop) marks its client dirty; when the event ends the loop
// runs the pool's deferred writes and serves every dirty client once, so
// a read that finishes the replies of many requests of a client costs that
// client one write.

// loop is the server's side of one event loop; it implements eventloop.Loop.
// All but idx and el is owned by the loop.
type loop struct {
	s        *Server
	idx      int
	el       gnet.EventLoop
	dirty    []*conn             // clients with replies finished on the loop
	deferred []eventloop.Flusher // the pools' work for the end of the event
	flushing bool
	slots    []*slot           // written slots for reuse by the loop's connections
	out      []byte            // the replies a connection writes at the end of serve
	thrift   *thrift.Processor // runs the Thrift calls that do not block
}

// Bounds of loop.slots: a pipelining client needs a slot per request in
// flight; the loop keeps some for the next ones, with small buffers only.
const (
	maxLoopSlots   = 1024
	maxLoopSlotBuf = 4 << 10
)

// getSlot returns a free slot.
func (l *loop) getSlot() *slot {
	if n := len(l.slots); n > 0 {
		sl := l.slots[n-1]
		l.slots[n-1] = nil
		l.slots = l.slots[:n-1]
		return sl
	}
	return &slot{}
}

// putSlot keeps sl, written and reset, for reuse if there is room.
func (l *loop) putSlot(sl *slot) {
	if len(l.slots) == maxLoopSlots {
		return
	}
	if cap(sl.buf) > maxLoopSlotBuf {
		sl.buf = nil
	}
	l.slots = append(l.slots, sl)
}

// takeOut lends the loop's reply buffer, empty, to one connection's serve:
// it is written to the socket (gnet copies what the socket does not take)
// before serve ends, so one buffer serves every connection of the loop, and
// a connection keeps none of its own. A serve within a serve (none today)
// would find none and grow its own.
func (l *loop) takeOut() []byte {
	out := l.out
	l.out = nil
	return out[:0]
}

// putOut takes the reply buffer back, unless it grew too big to keep.
func (l *loop) putOut(out []byte) {
	if cap(out) <= maxKeptSlotBuf {
		l.out = out[:0]
	}
}

var _ eventloop.Loop = (*loop)(nil)

func (l *loop) Index() int                { return l.idx }
func (l *loop) EventLoop() gnet.EventLoop { return l.el }
func (l *loop) Closing() <-chan struct{}  { return l.s.closing }
func (l *loop) Stopped() <-chan struct{}  { return l.s.stopped }

// Defer implements eventloop.Loop.
func (l *loop) Defer(f eventloop.Flusher) { l.deferred = append(l.deferred, f) }

// markDirty queues cn to be served when the event ends.
func (l *loop) markDirty(cn *conn) {
	if !cn.dirty {
		cn.dirty = true
		l.dirty = append(l.dirty, cn)
	}
}

// Flush implements eventloop.Loop: it runs the deferred work and serves the
// dirty clients until neither is left (serving a client may send requests,
// and writing requests may fail replies at once). It does nothing when
// called from within itself: the outer call goes on until all is done.
func (l *loop) Flush() {
	if l.flushing {
		return
	}
	l.flushing = true
	for len(l.deferred) > 0 || len(l.dirty) > 0 {
		// Both may grow while they are walked.
		for i := 0; i < len(l.deferred); i++ {
			l.deferred[i].Flush()
		}
		clear(l.deferred)
		l.deferred = l.deferred[:0]
		for i := 0; i < len(l.dirty); i++ {
			cn := l.dirty[i]
			cn.dirty = false
			if cn.closed {
				continue
			}
			if cn.serve() == gnet.Close {
				// Not synchronously: cn may be the connection whose
				// OnTraffic is running.
				_ = cn.c.Close()
			}
		}
		clear(l.dirty)
		l.dirty = l.dirty[:0]
	}
	l.flushing = false
}

// loopOf returns the server's state of el, making it on first use.
func (s *Server) loopOf(el gnet.EventLoop) *loop {
	if ls := s.loops.Load(); ls != nil {
		for _, l := range *ls {
			if l.el == el {
				return l
			}
		}
	}
	s.loopMu.Lock()
	defer s.loopMu.Unlock()
	var cur []*loop
	if ls := s.loops.Load(); ls != nil {
		cur = *ls
	}
	for _, l := range cur {
		if l.el == el {
			return l
		}
	}
	l := &loop{s: s, idx: len(cur), el: el}
	next := append(cur[:len(cur):len(cur)], l)
	s.loops.Store(&next)
	return l
}

// upstreamOpen, upstreamTraffic and upstreamClose hand an upstream
// connection's events to its pool, then end the event on the loop.
func (s *Server) upstreamOpen(c gnet.Conn, lc eventloop.Conn) ([]byte, gnet.Action) {
	act := lc.OnOpen(c)
	s.loopOf(c.EventLoop()).Flush()
	return nil, act
}

func (s *Server) upstreamTraffic(c gnet.Conn, lc eventloop.Conn) gnet.Action {
	act := lc.OnTraffic(c)
	s.loopOf(c.EventLoop()).Flush()
	return act
}

func (s *Server) upstreamClose(c gnet.Conn, lc eventloop.Conn, err error) gnet.Action {
	lc.OnClose(c, err)
	s.loopOf(c.EventLoop()).Flush()
	return gnet.None
}
