package fallback

import (
	"bytes"
	"sync"

	"github.com/fae-sidecar/fae/eventloop"
	"github.com/fae-sidecar/fae/proto/memcache"
	"github.com/fae-sidecar/fae/upstream"
)

// serveRead serves a retrieval while some keys are pending: a single key
// by serveOne; several, when any is pending, split per key (pending ones
// to their workers, others to the server) and merged in key order.
func (p *Pool) serveRead(req *memcache.Request, out []byte, w upstream.Waiter) ([]byte, bool) {
	if len(req.Keys) == 1 {
		return p.serveOne(req, out, w)
	}
	any := false
	for _, k := range req.Keys {
		sh := p.shardOf(k)
		sh.mu.Lock()
		st := sh.keys[string(k)]
		any = st != nil && st.local()
		sh.mu.Unlock()
		if any {
			break
		}
	}
	if !any {
		return p.next.Serve(req, out, w)
	}
	g := &gather{w: w, parts: make([][]byte, len(req.Keys)), left: len(req.Keys) + 1}
	if lw, ok := w.(upstream.LoopWaiter); ok {
		g.lw = lw
	}
	for i, k := range req.Keys {
		sub := *req
		sub.Keys = [][]byte{k}
		pw := &part{g: g, i: i}
		o, async := p.serveOne(&sub, nil, pw)
		if !async {
			g.mu.Lock()
			g.parts[i] = o
			g.left--
			g.mu.Unlock()
		}
	}
	g.mu.Lock()
	g.left--
	last := g.left == 0
	g.mu.Unlock()
	if !last {
		return out, true
	}
	return g.merge(out), false
}

// gather merges the parts of a split retrieval.
type gather struct {
	w  upstream.Waiter
	lw upstream.LoopWaiter

	mu    sync.Mutex
	parts [][]byte // each key's reply
	left  int      // parts not answered, plus one until Serve returns
}

// merge appends the parts' values and one END: a part that failed counts
// as a miss, as in a multi-get the pool splits.
func (g *gather) merge(out []byte) []byte {
	for _, r := range g.parts {
		if bytes.HasPrefix(r, []byte("VALUE ")) {
			out = append(out, bytes.TrimSuffix(r, []byte(memcache.ReplyEnd))...)
		}
	}
	return append(out, memcache.ReplyEnd...)
}

// part is the waiter of one key of a gather, on the client's loop.
type part struct {
	g *gather
	i int
}

var _ upstream.LoopWaiter = (*part)(nil)

func (pw *part) Loop() eventloop.Loop {
	if pw.g.lw == nil {
		return nil
	}
	return pw.g.lw.Loop()
}

func (pw *part) Done(reply []byte)       { pw.done(reply, false) }
func (pw *part) DoneOnLoop(reply []byte) { pw.done(reply, true) }

func (pw *part) done(reply []byte, onLoop bool) {
	g := pw.g
	g.mu.Lock()
	g.parts[pw.i] = append([]byte(nil), reply...)
	g.left--
	last := g.left == 0
	g.mu.Unlock()
	if !last {
		return
	}
	merged := g.merge(nil)
	if onLoop && g.lw != nil {
		g.lw.DoneOnLoop(merged)
		return
	}
	g.w.Done(merged)
}
