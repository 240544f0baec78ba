package memcache

import (
	"bytes"
	"slices"
	"sync/atomic"

	"github.com/fae-sidecar/fae/proto/memcache"
	"github.com/fae-sidecar/fae/upstream"
	"github.com/fae-sidecar/fae/upstream/pipeline"
)

// gather is one request fanned out to several connections: a multi-key read
// whose keys live on several servers (one part per server connection), or
// flush_all (one part per server). It is taken from Pool.gathers in Serve and
// put back after its merged reply is handed over.
type gather struct {
	p       *Pool
	w       upstream.Waiter
	pt      path // the transport of every part; pt.lw answers on the loop
	flush   bool
	noReply bool

	conns  []int    // the connection number (partOf) of each part
	partOf []int32  // the part of each of the client's keys
	keys   [][]byte // the client's keys in its order, views into arena
	arena  []byte
	parts  []part
	sub    [][]byte // Serve's scratch for one part's keys
	out    []byte   // the merged reply, when merged after Serve returned

	// left counts the parts not yet answered, plus one held by Serve until
	// it has queued every part: whoever takes it to zero merges and
	// answers, and Serve answering itself means w.Done is never called
	// from within Serve.
	left atomic.Int32
}

// part is one part's reply, copied out of the reader's buffer.
type part struct {
	reply []byte
	ok    bool // reply is the server's (END-terminated for reads)
	rest  []byte
}

func (p *Pool) getGather() *gather { return p.gathers.Get().(*gather) }

// putGather recycles g, dropping views of client buffers and big buffers.
func (p *Pool) putGather(g *gather) {
	g.w, g.pt, g.flush, g.noReply = nil, path{}, false, false
	g.conns, g.partOf = g.conns[:0], g.partOf[:0]
	clear(g.keys)
	g.keys = g.keys[:0]
	g.arena = trim(g.arena)
	for i := range g.parts {
		g.parts[i] = part{reply: trim(g.parts[i].reply)}
	}
	g.parts = g.parts[:0]
	g.out = trim(g.out)
	p.gathers.Put(g)
}

// maxKeptBuf is the largest buffer a gather keeps for reuse; a larger one (a
// big value went through) is dropped after use.
const maxKeptBuf = 1 << 20

// trim empties b for reuse unless it grew too big to keep.
func trim(b []byte) []byte {
	if cap(b) > maxKeptBuf {
		return nil
	}
	return b[:0]
}

// addKey records that the next key (or server, for flush) goes to
// connection number conn, adding a part for it if it is new.
func (g *gather) addKey(conn int) {
	i := slices.Index(g.conns, conn)
	if i < 0 {
		i = len(g.conns)
		g.conns = append(g.conns, conn)
	}
	g.partOf = append(g.partOf, int32(i))
	if len(g.parts) < len(g.conns) {
		// Reslice first, to reuse the reply buffers of earlier requests.
		if cap(g.parts) > len(g.parts) {
			g.parts = g.parts[:len(g.parts)+1]
		} else {
			g.parts = append(g.parts, part{})
		}
	}
}

// serveGet sends one request per part, each with its keys in the client's
// order.
func (g *gather) serveGet(req *memcache.Request, out []byte, w upstream.Waiter, pt path) ([]byte, bool) {
	g.w, g.pt = w, pt
	g.copyKeys(req.Keys)
	sub := *req
	sub.NoReply = false
	return g.send(&sub, req.Keys, out)
}

// serveFlush sends flush_all to one connection of every server.
func (g *gather) serveFlush(req *memcache.Request, out []byte, w upstream.Waiter, pt path) ([]byte, bool) {
	g.w, g.pt, g.flush, g.noReply = w, pt, true, req.NoReply
	sub := *req
	sub.NoReply = false
	return g.send(&sub, nil, out)
}

// send queues every part; keys are the client's (nil for flush_all). If all
// parts are answered by the time it is done (failed at once, or very fast
// servers), it merges into out itself and answers synchronously.
func (g *gather) send(sub *memcache.Request, keys [][]byte, out []byte) ([]byte, bool) {
	p := g.p
	g.left.Store(int32(len(g.parts)) + 1)
	for i, cn := range g.conns {
		o := p.getOp(g.pt)
		o.g, o.sub, o.cmd, o.stat = g, i, sub.Cmd, sub.Cmd
		if keys != nil {
			g.sub = g.sub[:0]
			for j, k := range keys {
				if int(g.partOf[j]) == i {
					g.sub = append(g.sub, k)
				}
			}
			sub.Keys = g.sub
			o.f.Kind, o.nkeys = memcache.FrameValues, len(g.sub)
		}
		if why := p.enqueue(g.pt, cn, sub, o); why != pipeline.ReasonNone {
			s := p.servers[o.srv]
			p.putOp(o)
			p.failNow(nil, s, why, true) // count it
			g.partDone(i, s.lines[why], false)
		}
	}
	clear(g.sub) // views of the client's buffer
	if g.left.Add(-1) > 0 {
		return out, true
	}
	out = g.merge(out)
	g.p.putGather(g)
	return out, false
}

// copyKeys keeps the client's keys for the merge: Serve's views die with
// the call.
func (g *gather) copyKeys(keys [][]byte) {
	n := 0
	for _, k := range keys {
		n += len(k)
	}
	if cap(g.arena) < n {
		g.arena = make([]byte, 0, n)
	}
	a := g.arena[:0]
	for _, k := range keys {
		s := len(a)
		a = append(a, k...)
		g.keys = append(g.keys, a[s:len(a):len(a)])
	}
	g.arena = a
}

// partDone records part i's reply (copied: it is the reader's buffer) and,
// if it was the last one, answers the client.
func (g *gather) partDone(i int, reply []byte, ok bool) {
	pt := &g.parts[i]
	pt.reply = append(pt.reply[:0], reply...)
	pt.ok = ok
	if g.left.Add(-1) > 0 {
		return
	}
	g.out = g.merge(g.out[:0])
	merged := g.out
	if g.noReply {
		merged = nil
	}
	if g.pt.lw != nil {
		g.pt.lw.DoneOnLoop(merged)
	} else {
		g.w.Done(merged)
	}
	g.p.putGather(g)
}

// merge builds the client's reply from the parts' replies.
func (g *gather) merge(out []byte) []byte {
	if g.flush {
		if g.noReply {
			return out
		}
		// OK only if every server said OK; else the first other answer.
		for i := range g.parts {
			if string(g.parts[i].reply) != memcache.ReplyOK {
				return append(out, g.parts[i].reply...)
			}
		}
		return append(out, memcache.ReplyOK...)
	}
	// A part that failed (or whose server answered an error line) counts
	// as misses for its keys, as mcrouter does; if every part failed the
	// client gets the first part's error line.
	var first []byte
	anyOK := false
	for i := range g.parts {
		pt := &g.parts[i]
		if pt.ok {
			pt.rest, anyOK = pt.reply, true
		} else if first == nil {
			first = pt.reply
		}
	}
	if !anyOK {
		return append(out, first...)
	}
	// Each part's VALUE blocks come in its keys' order, misses left out, so
	// walking the client's keys and taking a part's next block when its key
	// matches rebuilds memcached's answer, duplicates included.
	for j, k := range g.keys {
		pt := &g.parts[g.partOf[j]]
		if !pt.ok {
			continue
		}
		key, block, rest, ok := memcache.NextValue(pt.rest)
		if ok && bytes.Equal(key, k) {
			out = append(out, block...)
			pt.rest = rest
		}
	}
	return append(out, memcache.ReplyEnd...)
}
