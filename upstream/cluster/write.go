package cluster

import (
	"bytes"
	"sync"

	"github.com/fae-sidecar/fae/eventloop"
	"github.com/fae-sidecar/fae/peers/ring"
	"github.com/fae-sidecar/fae/proto/memcache"
	"github.com/fae-sidecar/fae/upstream"
)

// serveWrite sends req to every owner of its key and answers with the
// primary's reply, or an owner's failure (see fan.choice), once all have
// answered; a conditional or relative write is decided by the first owner
// (serveCond). A key this sidecar alone owns is served locally, on
// the loop.
func (p *Pool) serveWrite(r *ring.Ring, req *memcache.Request, out []byte, w upstream.Waiter) ([]byte, bool) {
	var kb [memcache.MaxMetaKey]byte
	var ob [MaxReplicas]string
	owners := p.owners(r, itemKey(req, &kb), ob[:0])
	if len(owners) == 1 && owners[0] == p.cfg.Self {
		return p.cfg.Local.Serve(req, out, w)
	}
	if kind := kindOf(req); kind != writeAll && len(owners) > 1 {
		return p.serveCond(owners, kind, req, out, w)
	}
	reply, pending := p.fanOut(owners, req, w, nil, 0)
	if pending {
		return out, true
	}
	return append(out, reply...), false
}

// serveTouchMulti serves a gat or gats of several keys: each key to its
// owners as a write, the hits merged in request order.
func (p *Pool) serveTouchMulti(r *ring.Ring, req *memcache.Request, out []byte, w upstream.Waiter) ([]byte, bool) {
	g := &gather{w: w, lp: upstream.LoopOf(w), parts: make([][]byte, len(req.Keys)), left: len(req.Keys) + 1}
	var ob [MaxReplicas]string
	for i, key := range req.Keys {
		one := *req
		one.Keys = [][]byte{key}
		if reply, pending := p.fanOut(p.owners(r, key, ob[:0]), &one, w, g, i); !pending {
			g.part(i, reply)
		}
	}
	if g.part(-1, nil) {
		return g.merge(out), false
	}
	return out, true
}

// fanOut sends req to owners and returns the client's reply, or pending
// when a peer's is awaited; with g, the reply is key gi's part of g
// instead. Forwarded, it allocates the fan, a copy of each reply, and what
// each link's Serve allocates.
func (p *Pool) fanOut(owners []string, req *memcache.Request, w upstream.Waiter, g *gather, gi int) (reply []byte, pending bool) {
	f := &fan{p: p, w: w, g: g, gi: gi, lp: upstream.LoopOf(w), n: len(owners), noReply: req.NoReply, left: 1}
	return f.send(owners, req)
}

// propagate sends req to owners (may be none) and answers the client with
// reply, whatever they answer, once all have: the rest of a conditional
// write (cond). Same return as fanOut.
func (p *Pool) propagate(owners []string, req *memcache.Request, w upstream.Waiter, reply []byte) ([]byte, bool) {
	f := &fan{p: p, w: w, lp: upstream.LoopOf(w), n: len(owners), fixed: true, reply: reply, left: 1}
	return f.send(owners, req)
}

// send sends req to owners; see fanOut.
func (f *fan) send(owners []string, req *memcache.Request) (reply []byte, pending bool) {
	p := f.p
	sub := *req
	sub.NoReply = false // every owner answers; the client's noreply is applied to the choice
	for i, o := range owners {
		f.subs[i] = fanSub{f: f, i: i}
		if o == p.cfg.Self {
			reply, _ := p.cfg.Local.Serve(&sub, nil, nil) // the local store answers at once
			f.part(i, reply, false)
			continue
		}
		l := p.cfg.Links.Link(o)
		if l == nil {
			f.part(i, replyNoOwner, false)
			continue
		}
		p.forwarded.Add(1)
		f.mu.Lock()
		f.left++
		f.mu.Unlock()
		if reply, async := l.Serve(&sub, nil, &f.subs[i]); !async {
			f.part(i, reply, true)
		}
	}
	if f.part(-1, nil, false) {
		return f.choice(), false
	}
	return nil, true
}

// fan is a write in flight to a key's owners.
type fan struct {
	p       *Pool
	w       upstream.Waiter
	g       *gather // set for one key of a multi-key gat
	gi      int
	lp      eventloop.Loop
	n       int
	noReply bool
	// fixed: reply is the client's, whatever the owners answer.
	fixed bool
	reply []byte
	subs  [MaxReplicas]fanSub

	mu      sync.Mutex
	left    int // owners yet to answer, plus one while Serve runs
	replies [MaxReplicas][]byte
	failed  [MaxReplicas]bool
}

// part records owner i's reply (i < 0: Serve is done sending) and reports
// whether it was the last one awaited. A reply from a peer that is a
// SERVER_ERROR line counts as the owner's failure.
func (f *fan) part(i int, reply []byte, peer bool) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if i >= 0 {
		f.replies[i] = append([]byte(nil), reply...)
		f.failed[i] = bytes.HasPrefix(reply, []byte("SERVER_ERROR ")) && peer || bytes.Equal(reply, replyNoOwner)
		if f.failed[i] {
			f.p.peerFails.Add(1)
		}
		if !peer {
			return false
		}
	}
	f.left--
	return f.left == 0
}

// choice is the client's reply: the primary's, or the first owner's that
// did not fail, or the primary's failure.
func (f *fan) choice() []byte {
	if f.noReply {
		return nil
	}
	// An owner on the ring (so up, as far as the membership knows) that
	// failed did not take the write: the client is answered with its
	// failure, not with another owner's STORED. Otherwise the write would
	// be acknowledged while that owner kept its older value, which it
	// answers as soon as it is the first owner a reader asks (it is the
	// key's primary, or the owner before it leaves). The outcome is then
	// unknown to the client, as after any SERVER_ERROR.
	for i := range f.n {
		if f.failed[i] {
			return f.replies[i]
		}
	}
	if f.fixed {
		return f.reply
	}
	return f.replies[0]
}

// fanSub is the waiter of one owner's part of a fan.
type fanSub struct {
	f *fan
	i int
}

func (s *fanSub) Done(reply []byte) {
	if s.f.part(s.i, reply, true) {
		s.f.finish(nil)
	}
}

func (s *fanSub) Loop() eventloop.Loop { return s.f.lp }

func (s *fanSub) DoneOnLoop(reply []byte) {
	if s.f.part(s.i, reply, true) {
		s.f.finish(s.f.lp)
	}
}

// finish answers the client, on loop l (nil: from any goroutine).
func (f *fan) finish(l eventloop.Loop) {
	if f.g == nil {
		upstream.Complete(f.w, l, f.choice())
		return
	}
	if f.g.part(f.gi, f.choice()) {
		upstream.Complete(f.g.w, l, f.g.merge(nil))
	}
}
