package router

import (
	"bytes"
	"sync"

	"github.com/fae-sidecar/fae/eventloop"
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
	rp2 := &readPath{next: p, l1: rp.L1, co: coalesce.New()}
	rp2.writes.New = func() any { return &invalidate{p: rp2} }
	return rp2
}

// readPath merges reads and keeps L1. A pool's loop transport sends each
// event loop's requests on the loop's own connections, so a read may
// overtake a write of the same client that is still in flight on another
// loop's connection: the reads of a loop (its lane) join the flights of
// other loops only when their client has nothing in flight (see
// coalesce.JoinLane), and every write detaches its keys' flights both when
// it leaves and when it is answered.
type readPath struct {
	next   upstream.Pool
	l1     *l1.Cache
	co     *coalesce.Group
	writes sync.Pool // *invalidate
}

// forget detaches key's flights and drops it from L1.
func (p *readPath) forget(key []byte) {
	p.co.Forget(key)
	if p.l1 != nil {
		p.l1.Delete(key)
	}
}

func (p *readPath) Serve(req *memcache.Request, out []byte, w upstream.Waiter) ([]byte, bool) {
	switch {
	case req.Cmd == memcache.CmdGet && len(req.Keys) == 1:
		return p.get(req, out, w)
	case req.Cmd == memcache.CmdFlushAll:
		if p.l1 != nil {
			p.l1.Purge()
		}
	case req.Cmd == memcache.CmdMetaGet && !metaGetWrites(&req.Meta):
		// A read: it neither changes the item nor fills L1.
	case req.Cmd.HasKey() && !req.Cmd.IsRetrieval(), req.Cmd == memcache.CmdGat, req.Cmd == memcache.CmdGats:
		return p.write(req, out, w)
	}
	return p.next.Serve(req, out, w)
}

// metaGetWrites reports whether an mg may change its item: create it (N),
// touch it (T) or hand out a recache win (R).
func metaGetWrites(m *memcache.MetaFlags) bool {
	return m.Has('N') || m.Has('T') || m.Has('R')
}

// get answers from L1, joins a read of the same key in flight, or leads one.
func (p *readPath) get(req *memcache.Request, out []byte, w upstream.Waiter) ([]byte, bool) {
	key := req.Keys[0]
	if p.l1 != nil {
		if o, ok := p.l1.Get(key, out); ok {
			return append(o, memcache.ReplyEnd...), false
		}
	}
	l := upstream.LoopOf(w)
	f, lead := p.co.JoinLane(key, w, l, upstream.Settled(w))
	if !lead {
		return out, true
	}
	ld, _ := f.Owner.(*leader) // a recycled flight keeps its leader
	if ld == nil {
		ld = &leader{f: f, p: p}
		f.Owner = ld
	}
	ld.loop = l
	n := len(out)
	o, async := p.next.Serve(req, out, ld)
	if async {
		return o, true
	}
	// Answered at once (e.g. a failing server): share it with followers.
	f.Answer(o[n:])
	ld.release()
	return o, false
}

// leader receives the upstream reply of a flight, fills L1 with a hit unless
// a write detached the flight, and hands the reply to every reader. It is a
// LoopWaiter on the loop of the reader who leads, so the read takes the
// same path as that reader's other requests. It lives in its flight's
// Owner and is recycled with the flight once every reader has the reply.
type leader struct {
	f    *coalesce.Flight
	p    *readPath
	loop eventloop.Loop
}

func (l *leader) Done(reply []byte) {
	l.fill(reply)
	for _, w := range l.f.Finish() {
		w.Done(reply)
	}
	l.release()
}

func (l *leader) Loop() eventloop.Loop { return l.loop }

func (l *leader) DoneOnLoop(reply []byte) {
	l.fill(reply)
	for _, w := range l.f.Finish() {
		upstream.Complete(w, l.loop, reply)
	}
	l.release()
}

// release recycles the flight, and l with it.
func (l *leader) release() {
	l.loop = nil
	l.f.Release()
}

// fill caches a hit unless a write detached the flight. It checks again
// after the fill: a write detaches the flight before it drops the key, so
// either the check sees the write or the drop comes after the fill.
func (l *leader) fill(reply []byte) {
	if l.p.l1 != nil && !l.f.Stale() && bytes.HasPrefix(reply, []byte("VALUE ")) && bytes.HasSuffix(reply, []byte(memcache.ReplyEnd)) {
		key := l.f.Key()
		l.p.l1.Set(key, reply[:len(reply)-len(memcache.ReplyEnd)])
		if l.f.Stale() {
			l.p.l1.Delete(key)
		}
	}
}

// write detaches the keys' flights and drops them from L1 before the write
// leaves, and again when its reply arrives. The second time is what makes
// L1 and joining other lanes' flights safe: a read that memcached answered
// before the write may reach faed after the write's reply (it may travel on
// another connection: each event loop has its own); while in flight, the
// second detach marks it stale so it does not fill L1 and nobody joins it
// any more, and once done, its fill is dropped. A meta command's key sent
// in base64 (flag b) is detached decoded: the item's key, which a get
// names.
func (p *readPath) write(req *memcache.Request, out []byte, w upstream.Waiter) ([]byte, bool) {
	iw := p.writes.Get().(*invalidate)
	iw.w, iw.loop = w, upstream.LoopOf(w)
	keys := req.Keys
	var buf [memcache.MaxMetaKey]byte
	if k, decoded := req.ItemKey(buf[:]); decoded {
		keys = [][]byte{k} // a meta command: one key
	}
	for _, k := range keys {
		iw.keys = append(iw.keys, len(iw.arena))
		iw.arena = append(iw.arena, k...)
	}
	iw.forget()
	o, async := p.next.Serve(req, out, iw)
	if !async {
		iw.finish()
	}
	return o, async
}

// invalidate forgets a write's keys again when its reply arrives. It is a
// LoopWaiter on the writer's loop, as the writer's own waiter. It is taken
// from readPath.writes for each write and put back once answered.
type invalidate struct {
	p     *readPath
	w     upstream.Waiter
	loop  eventloop.Loop
	keys  []int  // where each key starts in arena
	arena []byte // the keys, one after the other
}

// forget detaches iw's keys and drops them from L1.
func (iw *invalidate) forget() {
	for i, start := range iw.keys {
		end := len(iw.arena)
		if i+1 < len(iw.keys) {
			end = iw.keys[i+1]
		}
		iw.p.forget(iw.arena[start:end])
	}
}

// finish detaches the keys again and recycles iw.
func (iw *invalidate) finish() {
	iw.forget()
	iw.w, iw.loop, iw.keys, iw.arena = nil, nil, iw.keys[:0], iw.arena[:0]
	if cap(iw.arena) > 4096 {
		iw.arena = nil
	}
	iw.p.writes.Put(iw)
}

func (iw *invalidate) Done(reply []byte) {
	w := iw.w
	iw.finish()
	w.Done(reply)
}

func (iw *invalidate) Loop() eventloop.Loop { return iw.loop }

func (iw *invalidate) DoneOnLoop(reply []byte) {
	w, l := iw.w, iw.loop
	iw.finish()
	upstream.Complete(w, l, reply)
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
