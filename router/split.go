package router

import (
	"bytes"
	"sync"

	"github.com/fae-sidecar/fae/eventloop"
	"github.com/fae-sidecar/fae/proto/memcache"
	"github.com/fae-sidecar/fae/upstream"
)

// splitPool serves a multi-key read whose keys live in several pools: one
// sub-request per pool, then the VALUE blocks merged back in the client's key
// order. It is the rare path (routes are usually chosen so one request hits
// one pool) and allocates per request.
type splitPool struct{ r *Router }

// splitGet gathers the parts of one split read.
type splitGet struct {
	mu    sync.Mutex
	w     upstream.Waiter
	loop  eventloop.Loop // w's loop: the parts take the same path as w's other requests
	keys  [][]byte       // copies, in client order
	owner []int          // part index per key
	parts []*splitPart
	left  int
	async bool
}

type splitPart struct {
	g     *splitGet
	pool  upstream.Pool
	reply []byte
}

func (p *splitPart) Done(reply []byte) {
	p.reply = append(p.reply[:0], reply...)
	p.g.partDone(nil)
}

func (p *splitPart) Loop() eventloop.Loop { return p.g.loop }

func (p *splitPart) DoneOnLoop(reply []byte) {
	p.reply = append(p.reply[:0], reply...)
	p.g.partDone(p.g.loop)
}

func (s splitPool) serve(req *memcache.Request, out []byte, w upstream.Waiter) ([]byte, bool) {
	g := &splitGet{w: w, loop: upstream.LoopOf(w)}
	for _, k := range req.Keys {
		p := s.r.Pick(k)
		idx := -1
		for i, part := range g.parts {
			if part.pool == p {
				idx = i
				break
			}
		}
		if idx < 0 {
			idx = len(g.parts)
			g.parts = append(g.parts, &splitPart{g: g, pool: p})
		}
		g.keys = append(g.keys, bytes.Clone(k))
		g.owner = append(g.owner, idx)
	}
	g.left = len(g.parts)
	sub := *req
	g.mu.Lock() // parts may finish before the loop ends; merge only after it
	for i, part := range g.parts {
		sub.Keys = sub.Keys[:0:0]
		for j, k := range req.Keys {
			if g.owner[j] == i {
				sub.Keys = append(sub.Keys, k)
			}
		}
		reply, async := part.pool.Serve(&sub, nil, part)
		if !async {
			part.reply = reply
			g.left--
		} else {
			g.async = true
		}
	}
	if g.left > 0 {
		g.mu.Unlock()
		return out, true
	}
	g.mu.Unlock()
	return g.merge(out), false
}

// partDone counts a part in; the last one answers the client, on loop l
// when it is called there (else l is nil).
func (g *splitGet) partDone(l eventloop.Loop) {
	g.mu.Lock()
	g.left--
	done := g.left == 0 && g.async
	g.mu.Unlock()
	if done {
		upstream.Complete(g.w, l, g.merge(nil))
	}
}

// merge walks each part's reply in step with the client's keys. A part whose
// reply is not a list of VALUE blocks (an error line) counts as misses for
// its keys, as mcrouter does, unless every part failed: then the client gets
// the first error line.
func (g *splitGet) merge(out []byte) []byte {
	rest := make([][]byte, len(g.parts))
	failed := 0
	var firstErr []byte
	for i, p := range g.parts {
		rest[i] = p.reply
		if !bytes.HasPrefix(p.reply, []byte("VALUE ")) && !bytes.HasPrefix(p.reply, []byte(memcache.ReplyEnd)) {
			failed++
			if firstErr == nil {
				firstErr = p.reply
			}
			rest[i] = nil
		}
	}
	if failed == len(g.parts) {
		return append(out, firstErr...)
	}
	for j, k := range g.keys {
		i := g.owner[j]
		key, block, next, ok := memcache.NextValue(rest[i])
		if ok && bytes.Equal(key, k) {
			out = append(out, block...)
			rest[i] = next
		}
	}
	return append(out, memcache.ReplyEnd...)
}
