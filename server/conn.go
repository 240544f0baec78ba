package server

import (
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/fae-sidecar/fae/proto/memcache"
)

// conn is the state of one client connection. Everything but the atomics is
// owned by the connection's event loop.
type conn struct {
	s    *Server
	c    gnet.Conn
	loop *loop

	pending []*slot  // FIFO of replies behind the oldest unfinished upstream request
	pend0   [2]*slot // pending's first backing array: none allocated per connection
	spare   *slot    // a slot handed to the handler but not taken
	swallow int      // bytes of a refused data block still to discard
	need    int      // length of the incomplete request at the front, when known
	part    []byte   // a large request taken out of gnet, whole at cap (partial.go)
	closing bool     // quit or a fatal error: close once pending replies are out
	fence   bool     // a flush_all is ordered: parse nothing until pending is empty
	seen    int      // inbound bytes already counted in bytes_read
	dirty   bool     // queued on loop.dirty
	closed  bool     // OnClose ran
	// finished: the server drains and every request read was answered and
	// written; the write side is shut (the client reads EOF after its last
	// reply) and what the client still sends is discarded unparsed.
	finished bool
	// cutting: the server drains; only the first cut bytes buffered (those
	// read before the drain reached this connection) may begin a request.
	cutting bool
	cut     int

	// front is the protocol the connection speaks, chosen by its first
	// byte (front.go); nil until that byte arrives. A text connection's is
	// text, allocated with the connection.
	front front
	text  textFront

	opened     int64        // unix nanos of OnOpen
	proven     atomic.Bool  // passed Config.Handshake (handshake.go)
	lastActive atomic.Int64 // unix nanos of the last read
	inflight   atomic.Int32 // slots waiting for an upstream
	held       atomic.Bool  // held back by a full outbound buffer
}

// serve runs on the event loop for every read and every wake-up.
func (cn *conn) serve() gnet.Action {
	s, c := cn.s, cn.c
	cn.lastActive.Store(time.Now().UnixNano())
	if cn.finished {
		return cn.linger()
	}
	cn.startCut()
	out := cn.drain(cn.loop.takeOut())

	// Bytes that arrived since the last event; counted once they are
	// served, so that bytes_read never runs ahead of what faed acted on.
	arrived := c.InboundBuffered() - cn.seen
	held := false
	if cn.part != nil {
		out, held = cn.fill(out)
	}
	// An incomplete request is parsed again only once the bytes it needs
	// are in: Peek copies gnet's whole buffer when part of it is left
	// from an earlier read, so peeking at every read of a request that
	// comes in many would cost time quadratic in its size.
	if cn.part == nil && c.InboundBuffered() >= max(cn.need, 1) {
		buf, _ := c.Peek(-1)
		cn.need = 0
		var off int
		out, off, held = cn.parse(out, buf, cn.readEnd(len(buf)))
		if off > 0 {
			_, _ = c.Discard(off)
			cn.consumed(off)
		}
	}
	cn.seen = c.InboundBuffered()
	if arrived > 0 {
		s.stats.bytesRead.Add(uint64(arrived))
	}
	cn.held.Store(held && len(cn.pending) < s.limits().MaxInflight)

	if len(out) > 0 {
		_, _ = c.Write(out)
		s.stats.bytesWritten.Add(uint64(len(out)))
	}
	cn.loop.putOut(out)
	if cn.closing && len(cn.pending) == 0 {
		return gnet.Close
	}
	if held && cn.seen > s.limits().MaxInbound {
		// The client keeps sending while we hold it back: drop it rather
		// than buffer without bound.
		_, _ = c.Write([]byte("SERVER_ERROR out of memory reading request\r\n"))
		return gnet.Close
	}
	if s.draining.Load() {
		return cn.finish()
	}
	return gnet.None
}

// parse runs the connection's front over buf, beginning requests only
// before end (see readEnd). It returns out with the replies to write, the
// bytes of buf used, and whether a limit holds the connection back.
func (cn *conn) parse(out, buf []byte, end int) (_ []byte, off int, held bool) {
	if cn.front == nil && len(buf) > 0 {
		cn.front = cn.sniff(buf[0])
	}
	for !cn.closing && off < end {
		swallowed, next, limit := cn.gate(len(out), len(buf)-off)
		off += swallowed
		if swallowed > 0 {
			continue
		}
		if !next {
			return out, off, limit
		}
		var n int
		var st step
		out, n, st = cn.front.serveNext(cn, out, buf[off:])
		off += n
		if st == stepIncomplete {
			break
		}
		if st == stepFence {
			cn.fence = true
			break
		}
	}
	return out, off, false
}

// gate runs before each request of either protocol is parsed: it discards
// the bytes of a refused data block (swallowed, out of avail), waits while a
// fence has requests before it, and holds the connection back at its
// inflight and outbound limits. next reports whether parsing may go on;
// held, that a limit stopped it.
func (cn *conn) gate(outLen, avail int) (swallowed int, next, held bool) {
	if cn.swallow > 0 {
		n := min(cn.swallow, avail)
		cn.swallow -= n
		return n, false, false
	}
	if cn.fence {
		if len(cn.pending) > 0 {
			return 0, false, false
		}
		cn.fence = false
	}
	if lim := cn.s.limits(); len(cn.pending) >= lim.MaxInflight || cn.c.OutboundBuffered()+outLen > lim.MaxOutbound {
		return 0, false, true
	}
	return 0, true, false
}

// drain appends the finished replies at the head of the FIFO to out.
func (cn *conn) drain(out []byte) []byte {
	i := 0
	for ; i < len(cn.pending); i++ {
		sl := cn.pending[i]
		if !sl.done.Load() {
			break
		}
		out = append(out, sl.buf...)
		cn.release(sl)
	}
	if i > 0 {
		n := copy(cn.pending, cn.pending[i:])
		clear(cn.pending[n:])
		cn.pending = cn.pending[:n]
	}
	return out
}

// release returns a written slot for reuse, and accounts for it if it had
// gone upstream.
func (cn *conn) release(sl *slot) {
	if sl.cn != nil { // went upstream
		cn.inflight.Add(-1)
		cn.s.inflight.Add(-1)
	}
	if cap(sl.buf) > maxKeptSlotBuf {
		sl.buf = nil
	}
	sl.buf = sl.buf[:0]
	sl.cn = nil
	sl.done.Store(false)
	if cn.spare == nil {
		cn.spare = sl
		return
	}
	cn.loop.putSlot(sl)
}

// asyncPending counts the pending slots that wait for an upstream.
func (cn *conn) asyncPending() int { return int(cn.inflight.Load()) }

// scratch returns an empty buffer for a reply built before it is queued.
func (cn *conn) scratch() []byte {
	if cn.spare != nil {
		return cn.spare.buf[:0]
	}
	return nil
}

// reply queues a finished reply behind pending ones, or appends it to out.
func (cn *conn) reply(out, r []byte) []byte {
	if len(cn.pending) == 0 {
		return append(out, r...)
	}
	sl := cn.takeSlot()
	sl.buf = r
	sl.done.Store(true)
	cn.pending = append(cn.pending, sl)
	return out
}

// takeSlot returns the spare slot or a new one.
func (cn *conn) takeSlot() *slot {
	sl := cn.spare
	cn.spare = nil
	if sl == nil {
		sl = cn.loop.getSlot()
	}
	return sl
}

// handle passes a request to the handler. While nothing is pending, a reply
// given at once goes straight to out; otherwise it queues in a slot.
func (cn *conn) handle(out []byte, req *memcache.Request) []byte {
	return cn.handleWith(cn.s.h, out, req)
}

// handleWith is handle with handler h.
func (cn *conn) handleWith(h Handler, out []byte, req *memcache.Request) []byte {
	sl := cn.takeSlot()
	sl.cn = cn
	dst := out
	if len(cn.pending) > 0 {
		dst = sl.buf[:0]
	}
	r, async := h.Serve(req, dst, sl)
	if async {
		cn.inflight.Add(1)
		cn.s.inflight.Add(1)
		cn.pending = append(cn.pending, sl)
		return out
	}
	sl.cn = nil
	if len(cn.pending) == 0 {
		cn.spare = sl
		return r
	}
	sl.buf = r
	sl.done.Store(true)
	cn.pending = append(cn.pending, sl)
	return out
}
