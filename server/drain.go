package server

import (
	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

// Draining (SIGTERM): the server stops accepting connections and wakes
// every connection on a timer (Server.Run). When a connection first sees
// the drain, the bytes it has read so far are its last: every request
// that begins in them is parsed and answered in order, as at any other
// time (one cut off at the end of them is waited for), and nothing that
// begins after them (readEnd). Once nothing of it is pending upstream and
// its replies have left faed's buffer (finish), it shuts its write side:
// the client reads every reply, then EOF. What the client sent after the
// cut is discarded unparsed, never executed: a request with no reply was
// not run. The connection closes when the client closes, or as soon as the
// client's kernel has acknowledged every reply byte (linger): closing
// earlier with unread input would send a reset, which drops replies still
// in flight.

// startCut is serve's first step: when the connection first sees the
// drain, the bytes gnet holds for it are the last it may begin requests
// in (a request already taken out of gnet, cn.part, began before them).
func (cn *conn) startCut() {
	if !cn.cutting && cn.s.draining.Load() {
		cn.cutting, cn.cut = true, cn.c.InboundBuffered()
	}
}

// readEnd is how much of the n bytes buffered serve may begin requests in:
// all of them, or once the server drains only those before the cut.
func (cn *conn) readEnd(n int) int {
	if !cn.cutting {
		return n
	}
	return min(n, cn.cut)
}

// consumed notes n bytes taken out of gnet's buffer: parsed, discarded or
// moved into cn.part.
func (cn *conn) consumed(n int) {
	if cn.cutting {
		cn.cut = max(0, cn.cut-n)
	}
}

// finish is serve's last step while the server drains.
func (cn *conn) finish() gnet.Action {
	if cn.closing || len(cn.pending) > 0 || cn.cut > 0 || cn.part != nil || cn.c.OutboundBuffered() > 0 {
		return gnet.None // more to answer or write; Run wakes it again
	}
	cn.finished = true
	if err := unix.Shutdown(cn.c.Fd(), unix.SHUT_WR); err != nil {
		return gnet.Close
	}
	return cn.linger()
}

// linger discards what a finished connection reads and closes it once its
// replies are acknowledged.
func (cn *conn) linger() gnet.Action {
	if n := cn.c.InboundBuffered(); n > 0 {
		_, _ = cn.c.Discard(n)
	}
	if unacked(cn.c.Fd()) > 0 {
		return gnet.None
	}
	return gnet.Close
}
