package server

// A listener whose connections must first prove themselves (the peer port):
// with Config.Handshake set, every connection starts on handshakeFront,
// which feeds the bytes that arrived to the handshake until it is done,
// writes its answer, and then turns the connection into a text one for
// good. A connection that fails the handshake is closed; one that has not
// passed it within HandshakeTimeout is closed by the ticker (OnTick).

// handshakeFront is the front of a connection that has not passed
// Config.Handshake yet.
type handshakeFront struct{}

// serveNext implements front.
func (handshakeFront) serveNext(cn *conn, out, buf []byte) ([]byte, int, step) {
	reply, used, err := cn.s.cfg.Handshake(buf)
	switch {
	case err != nil:
		cn.closing = true
		return out, len(buf), stepNext
	case used == 0:
		return out, 0, stepIncomplete
	}
	cn.proven.Store(true)
	cn.front = &textFront{}
	return append(out, reply...), used, stepNext
}

// unproven reports whether cn is still in its handshake at now (unix
// nanos) past the handshake timeout.
func (s *Server) unproven(cn *conn, now int64) bool {
	return s.cfg.Handshake != nil && !cn.proven.Load() && now-cn.opened > s.cfg.HandshakeTimeout.Nanoseconds()
}
