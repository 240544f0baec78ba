package server

// Requests that arrive in pieces. A request whose data block is not all
// in waits for the rest. While it needs fewer than partialMin bytes it
// waits in gnet's inbound buffer, and the connection does not parse again
// until that buffer holds the whole request (conn.need). A larger one is
// taken out of gnet into a buffer of its exact size (conn.part), filled
// at each read and parsed once whole: gnet's buffer would grow by
// doubling and be copied whole by the Peek that parses it, several times
// the request's size, for every slow client at once. Those buffers
// together are bounded by MaxPartial: past it a request is refused as
// memcached refuses one it has no memory for, its bytes discarded, and
// the connection goes on.

// partialMin is the size from which a request still coming in is taken
// out of gnet's buffer and counted against MaxPartial.
const partialMin = 16 << 10

// await is called when the request at the front of rest is incomplete;
// need is its whole length when the parser knows it (0: not yet). A
// request of partialMin bytes or more is taken out of gnet: await returns
// the bytes of rest it took, or ok false when MaxPartial leaves no room
// for it (the caller refuses it).
func (cn *conn) await(rest []byte, need int) (taken int, ok bool) {
	if need < partialMin {
		cn.need = need
		return 0, true
	}
	if !cn.s.reservePartial(need) {
		return 0, false
	}
	cn.part = append(make([]byte, 0, need), rest...)
	return len(rest), true
}

// fill moves what arrived of the request in cn.part out of gnet and,
// once it is whole, parses and serves it. It returns out with its reply,
// and whether a limit held the connection back before the request was
// served (cn.part is then kept, whole, for the next wake-up).
func (cn *conn) fill(out []byte) ([]byte, bool) {
	p := cn.part
	if n := min(cap(p)-len(p), cn.c.InboundBuffered()); n > 0 {
		m, _ := cn.c.Read(p[len(p) : len(p)+n])
		cn.part = p[:len(p)+m]
		cn.consumed(m)
	}
	if len(cn.part) < cap(cn.part) {
		return out, false
	}
	// cn.part holds exactly one whole request: parse uses all of it, or
	// none when a limit stops it first.
	out, off, held := cn.parse(out, cn.part, len(cn.part))
	if off == 0 && !cn.closing {
		return out, held
	}
	cn.dropPartial()
	return out, held
}

// dropPartial gives up cn.part and its share of MaxPartial: the request
// was served, or its connection closed.
func (cn *conn) dropPartial() {
	if cn.part != nil {
		cn.s.partial.Add(-int64(cap(cn.part)))
		cn.part = nil
	}
}

// reservePartial counts n more bytes of requests taken out of gnet, unless
// that would pass MaxPartial.
func (s *Server) reservePartial(n int) bool {
	if s.partial.Add(int64(n)) > int64(s.cfg.MaxPartial) {
		s.partial.Add(-int64(n))
		return false
	}
	return true
}
