package server

import (
	"errors"
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

	req     memcache.Request
	out     []byte  // replies of this read, written once at its end
	pending []*slot // FIFO of replies behind the oldest unfinished upstream request
	spare   *slot   // a slot handed to the handler but not taken
	swallow int     // bytes of a refused data block still to discard
	need    int     // length of the incomplete request at the front, when known
	part    []byte  // a large request taken out of gnet, whole at cap (partial.go)
	closing bool    // quit or a fatal error: close once pending replies are out
	fence   bool    // a flush_all is ordered: parse nothing until pending is empty
	seen    int     // inbound bytes already counted in bytes_read
	dirty   bool    // queued on loop.dirty
	closed  bool    // OnClose ran

	// The binary protocol (binary.go).
	sniffed bool     // the first byte chose the protocol
	bin     *binConn // nil for a text connection

	lastActive atomic.Int64 // unix nanos of the last read
	inflight   atomic.Int32 // slots waiting for an upstream
	held       atomic.Bool  // held back by a full outbound buffer
}

// serve runs on the event loop for every read and every wake-up.
func (cn *conn) serve() gnet.Action {
	s, c := cn.s, cn.c
	cn.lastActive.Store(time.Now().UnixNano())
	out := cn.drain(cn.out[:0])

	if n := c.InboundBuffered() - cn.seen; n > 0 {
		s.stats.bytesRead.Add(uint64(n))
	}
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
		out, off, held = cn.parse(out, buf)
		if off > 0 {
			_, _ = c.Discard(off)
		}
	}
	cn.seen = c.InboundBuffered()
	cn.held.Store(held && len(cn.pending) < s.cfg.MaxInflight)

	if len(out) > 0 {
		_, _ = c.Write(out)
		s.stats.bytesWritten.Add(uint64(len(out)))
	}
	if cap(out) > maxKeptSlotBuf {
		out = nil
	}
	cn.out = out[:0]
	if cn.closing && len(cn.pending) == 0 {
		return gnet.Close
	}
	if held && cn.seen > s.cfg.MaxInbound {
		// The client keeps sending while we hold it back: drop it rather
		// than buffer without bound.
		_, _ = c.Write([]byte("SERVER_ERROR out of memory reading request\r\n"))
		return gnet.Close
	}
	return gnet.None
}

// parse parses and serves the requests at the front of buf in the
// connection's protocol. It returns out with the replies to write, the
// bytes of buf used, and whether a limit holds the connection back.
func (cn *conn) parse(out, buf []byte) (_ []byte, off int, held bool) {
	if cn.sniff(buf) {
		return cn.serveBinary(out, buf)
	}
	return cn.serveText(out, buf)
}

// serveText is parse for a text connection.
func (cn *conn) serveText(out, buf []byte) (_ []byte, off int, held bool) {
	for !cn.closing && off < len(buf) {
		swallowed, next, limit := cn.gate(len(out), len(buf)-off)
		off += swallowed
		if swallowed > 0 {
			continue
		}
		if !next {
			return out, off, limit
		}
		n, err := cn.s.parser.Parse(buf[off:], &cn.req)
		if errors.Is(err, memcache.ErrIncomplete) {
			taken, ok := cn.await(buf[off:], cn.req.Need)
			if !ok {
				out = cn.protocolError(out, memcache.OutOfMemory(&cn.req))
				continue
			}
			off += taken
			break
		}
		if err == nil && cn.req.Cmd == memcache.CmdFlushAll && len(cn.pending) > 0 {
			// flush_all is a fence: upstream, the requests before it may
			// travel on other connections than the flush, so it leaves
			// only once they are answered, and nothing after it leaves
			// before it is. Parse it again then.
			cn.fence = true
			break
		}
		off += n
		if err != nil {
			var pe *memcache.Error
			if !errors.As(err, &pe) {
				cn.closing = true
				break
			}
			out = cn.protocolError(out, pe)
			continue
		}
		out = cn.dispatch(out)
		if cn.req.Cmd == memcache.CmdFlushAll && len(cn.pending) > 0 {
			cn.fence = true
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
	if len(cn.pending) >= cn.s.cfg.MaxInflight || cn.c.OutboundBuffered()+outLen > cn.s.cfg.MaxOutbound {
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

// dispatch serves the request in cn.req and returns out with its reply, or
// queues a slot for it.
func (cn *conn) dispatch(out []byte) []byte {
	req := &cn.req
	switch req.Cmd {
	case memcache.CmdVersion:
		return cn.reply(out, append(append(cn.scratch(), "VERSION "...), cn.s.cfg.Version+"\r\n"...))
	case memcache.CmdVerbosity:
		if req.NoReply {
			return out
		}
		return cn.reply(out, append(cn.scratch(), memcache.ReplyOK...))
	case memcache.CmdQuit:
		cn.closing = true
		return out
	case memcache.CmdStats:
		return cn.reply(out, cn.s.appendStats(cn.scratch(), req.Args))
	case memcache.CmdMetaNoop:
		// Queued behind the replies before it, like any reply: "MN" tells
		// a client every earlier (quiet) request is answered.
		return cn.reply(out, append(cn.scratch(), memcache.ReplyMetaNoop...))
	}
	return cn.handle(out, req)
}

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
	sl := cn.takeSlot()
	sl.cn = cn
	dst := out
	if len(cn.pending) > 0 {
		dst = sl.buf[:0]
	}
	r, async := cn.s.h.Serve(req, dst, sl)
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

// protocolError answers a request the parser refused, as memcached does.
func (cn *conn) protocolError(out []byte, pe *memcache.Error) []byte {
	if pe.Reply != "" {
		out = cn.reply(out, append(append(cn.scratch(), pe.Reply...), '\r', '\n'))
	}
	cn.swallow = pe.Swallow
	if pe.Close {
		cn.closing = true
		return out
	}
	// memcached unlinks the old item when a set is refused as too large,
	// so that a reader does not keep seeing a value the client replaced.
	// An ms refused so comes as a set (see memcache.Error); its key, in
	// base64 with flag b, is unlinked by an md that says so.
	if pe.Swallow > 0 && cn.req.Cmd == memcache.CmdSet && len(cn.req.Keys) == 1 {
		cn.req.Cmd = memcache.CmdDelete
		if cn.req.Meta.Has('b') {
			cn.req.Cmd, cn.req.Meta = memcache.CmdMetaDelete, memcache.MetaFlags{}
			cn.req.Meta.AddFlag('b')
		}
		cn.req.NoReply, cn.req.Origin = true, memcache.OriginUnlink
		out = cn.handle(out, &cn.req)
	}
	// A gat or gats cut short by a too-long key has touched the keys
	// before it, as memcached does; their replies are dropped.
	if (cn.req.Cmd == memcache.CmdGat || cn.req.Cmd == memcache.CmdGats) && len(cn.req.Keys) > 0 {
		keys := cn.req.Keys
		cn.req.Cmd, cn.req.NoReply = memcache.CmdTouch, true
		for i := range keys {
			cn.req.Keys = keys[i : i+1]
			out = cn.handle(out, &cn.req)
		}
		cn.req.Keys = keys
	}
	return out
}
