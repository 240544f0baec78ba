package router

import (
	"bytes"

	"github.com/fae-sidecar/fae/proto/memcache"
	"github.com/fae-sidecar/fae/router/coalesce"
	"github.com/fae-sidecar/fae/router/l1"
	"github.com/fae-sidecar/fae/upstream"
)

// ReadPath configures what the router puts in front of an upstream pool.
type ReadPath struct {
	// L1, when not nil, answers single-key gets from memory.
	L1 *l1.Cache
	// Coalesce merges concurrent single-key gets of one key. It is on
	// whenever L1 is.
	Coalesce bool
}

// WithReadPath wraps p with an L1 cache and read coalescing as rp says.
// Only single-key "get" is cached or merged: gets/gats carry a CAS or touch
// the item, and multi-gets are split per server below.
func WithReadPath(p upstream.Pool, rp ReadPath) upstream.Pool {
	if rp.L1 == nil && !rp.Coalesce {
		return p
	}
	// L1 is filled only by flights, whose staleness a write can mark, so
	// L1 brings coalescing with it.
	return &readPath{next: p, l1: rp.L1, co: coalesce.New()}
}

type readPath struct {
	next upstream.Pool
	l1   *l1.Cache
	co   *coalesce.Group
}

func (p *readPath) Serve(req *memcache.Request, out []byte, w upstream.Waiter) ([]byte, bool) {
	switch {
	case req.Cmd == memcache.CmdGet && len(req.Keys) == 1 && req.TrailingErr == "":
		return p.get(req, out, w)
	case req.Cmd == memcache.CmdFlushAll:
		if p.l1 != nil {
			p.l1.Purge()
		}
	case req.Cmd.HasKey() && !req.Cmd.IsRetrieval(), req.Cmd == memcache.CmdGat, req.Cmd == memcache.CmdGats:
		return p.write(req, out, w)
	}
	return p.next.Serve(req, out, w)
}

// get answers from L1, joins a read of the same key in flight, or leads one.
func (p *readPath) get(req *memcache.Request, out []byte, w upstream.Waiter) ([]byte, bool) {
	key := req.Keys[0]
	if p.l1 != nil {
		if o, ok := p.l1.Get(key, out); ok {
			return append(o, memcache.ReplyEnd...), false
		}
	}
	f, lead := p.co.Join(key, w)
	if !lead {
		return out, true
	}
	ld := &leader{f: f, p: p, key: bytes.Clone(key)}
	n := len(out)
	o, async := p.next.Serve(req, out, ld)
	if async {
		return o, true
	}
	// Answered at once (e.g. a failing server): share it with followers.
	f.Answer(o[n:])
	return o, false
}

// leader receives the upstream reply of a flight, fills L1 with a hit unless
// a write detached the flight, and hands the reply to every reader.
type leader struct {
	f   *coalesce.Flight
	p   *readPath
	key []byte
}

func (l *leader) Done(reply []byte) {
	if l.p.l1 != nil && !l.f.Stale() && bytes.HasPrefix(reply, []byte("VALUE ")) && bytes.HasSuffix(reply, []byte(memcache.ReplyEnd)) {
		l.p.l1.Set(l.key, reply[:len(reply)-len(memcache.ReplyEnd)])
	}
	l.f.Done(reply)
}

// write invalidates the keys before the write leaves and again when its
// reply arrives. The second drop is what makes L1 safe: a read sent before
// the write travels on the same upstream connection (one key, one
// connection), so its reply, and the L1 fill it triggers, comes first.
func (p *readPath) write(req *memcache.Request, out []byte, w upstream.Waiter) ([]byte, bool) {
	for _, k := range req.Keys {
		p.co.Forget(k)
		if p.l1 != nil {
			p.l1.Delete(k)
		}
	}
	if p.l1 == nil {
		return p.next.Serve(req, out, w)
	}
	iw := &invalidate{w: w, l1: p.l1}
	for _, k := range req.Keys {
		iw.keys = append(iw.keys, bytes.Clone(k))
	}
	o, async := p.next.Serve(req, out, iw)
	if !async {
		iw.drop()
	}
	return o, async
}

type invalidate struct {
	w    upstream.Waiter
	l1   *l1.Cache
	keys [][]byte
}

func (iw *invalidate) drop() {
	for _, k := range iw.keys {
		iw.l1.Delete(k)
	}
}

func (iw *invalidate) Done(reply []byte) {
	iw.drop()
	iw.w.Done(reply)
}

// Stats adds the read path's counters to the pool's.
func (p *readPath) Stats(add func(string, uint64)) {
	p.next.Stats(add)
	add("coalesced_gets", p.co.Merged())
	if p.l1 != nil {
		h, m, e := p.l1.Stats()
		add("l1_hits", h)
		add("l1_misses", m)
		add("l1_evictions", e)
		add("l1_bytes", uint64(p.l1.Bytes()))
	}
}

func (p *readPath) Close() error { return p.next.Close() }
