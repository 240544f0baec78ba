package server

import (
	"github.com/fae-sidecar/fae/proto/mcbin"
)

// A front is one protocol spoken on the client port. Every connection
// has one, chosen by its first byte (sniff), for good, as memcached
// chooses between its text and binary protocols. The connection's parse
// loop (conn.serve) is shared: it runs the gate (swallowed data blocks,
// the fence, the inflight and outbound limits) before each request and
// hands the front the unparsed bytes; the front parses one request and
// serves it through the connection's reply slots (conn.reply, conn.handle,
// conn.takeSlot), so ordering, limits and backpressure are the same for
// every protocol.
type front interface {
	// serveNext parses the request at the start of buf and serves it,
	// appending what is answered at once to out. It returns out, the
	// bytes of buf used, and what the loop does next. It may set
	// cn.closing (close once pending replies are out), cn.swallow (bytes
	// of a refused request to discard) and cn.fence.
	serveNext(cn *conn, out, buf []byte) ([]byte, int, step)
}

// step is what the parse loop does after a front's serveNext.
type step uint8

const (
	// stepNext: a request was used (or refused); go on parsing.
	stepNext step = iota
	// stepIncomplete: buf holds no whole request; wait for more bytes.
	stepIncomplete
	// stepFence: the request must wait until every earlier one is
	// answered; nothing was used, and it is parsed again then.
	stepFence
)

// sniff returns the front for a connection whose first byte is b: the
// binary protocol for its request magic (0x80), framed Thrift for 0x00
// (the first byte of every frame length up to 16 MiB) when the server
// serves Thrift, else the text protocol.
func (cn *conn) sniff(b byte) front {
	switch {
	case cn.s.cfg.Handshake != nil:
		return handshakeFront{}
	case b == mcbin.MagicRequest:
		return &binConn{parser: mcbin.Parser{MaxKeyLen: cn.s.cfg.MaxKeyLen, MaxItemSize: cn.s.cfg.MaxItemSize}}
	case b == 0x00 && cn.s.cfg.Thrift != nil:
		return &thriftFront{}
	}
	return &cn.text
}

// protocols names the protocols the server speaks, for its start-up log.
func (s *Server) protocols() string {
	if s.cfg.Thrift != nil {
		return "memcached text, binary and meta; framed Thrift"
	}
	return "memcached text, binary and meta"
}
