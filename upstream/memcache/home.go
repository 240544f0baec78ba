package memcache

import "bytes"

// What a fallback (package router/fallback) needs of the pool: which
// server owns a key, and whether a reply is the pool's own answer for a
// server it did not reach rather than the server's.

// unreachedPrefix starts every line the pool answers for a server it did
// not reach (down, refused, timed out, queue full, closed: server.lines);
// memcached's own error lines never start with it.
var unreachedPrefix = []byte("SERVER_ERROR upstream ")

// Home returns the address of the server key is placed on, whether it is
// up or not (Owner also names the failover server): where a write of key
// belongs.
func (p *Pool) Home(key []byte) string { return p.servers[p.pick.Pick(key)].addr }

// Addrs returns the addresses of the pool's servers (not the failover
// servers), in configuration order.
func (p *Pool) Addrs() []string {
	out := make([]string, len(p.cfg.Servers))
	for i := range out {
		out[i] = p.servers[i].addr
	}
	return out
}

// Unreached reports whether reply is the pool's own answer for a request
// its server did not take: the server was down, refused, timed out, its
// queue was full or the pool closed. The server never saw such a request,
// or it was cut before answering.
func (p *Pool) Unreached(reply []byte) bool { return bytes.HasPrefix(reply, unreachedPrefix) }
