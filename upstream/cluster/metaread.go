package cluster

import (
	"bytes"

	"github.com/fae-sidecar/fae/eventloop"
	"github.com/fae-sidecar/fae/peers/ring"
	"github.com/fae-sidecar/fae/proto/memcache"
	"github.com/fae-sidecar/fae/upstream"
)

// serveMetaRead serves an mg that changes nothing: from this sidecar's
// store when it is an owner and holds the key (on the loop, without
// allocating), else from the owners in ring order, each asked the
// client's own mg, until one has the key. An mg asking for the cas (c)
// asks in ring order from the primary on, even when this sidecar is a
// later owner: the primary decides a cas (see cond), so its unique is the
// one a following ms or md with C must carry. A miss (EN, or nothing for a
// quiet mg) or a failure at one owner moves on to the next, so an owner
// restarted empty hides nothing another owner holds. Unlike get, a hit is
// not set back where it missed: mg's reply carries only the flags the
// client asked for.
func (p *Pool) serveMetaRead(r *ring.Ring, req *memcache.Request, out []byte, w upstream.Waiter) ([]byte, bool) {
	var kb [memcache.MaxMetaKey]byte
	var ob [MaxReplicas]string
	owners := p.owners(r, itemKey(req, &kb), ob[:0])
	self := -1
	for i, o := range owners {
		if o == p.cfg.Self {
			self = i
			break
		}
	}
	if self > 0 && req.Meta.Has('c') {
		self = -1 // asked in ring order below
	}
	if self >= 0 {
		mark := len(out)
		out, _ = p.cfg.Local.Serve(req, out, nil)
		if len(owners) == 1 || !metaMissed(out[mark:]) {
			return out, false
		}
		out = out[:mark]
	}
	mr := &metaRead{p: p, w: w, lp: upstream.LoopOf(w), raw: memcache.AppendRequest(nil, req)}
	for i, o := range owners {
		if i != self {
			mr.order = append(mr.order, o)
		}
	}
	if reply, pending := mr.advance(); !pending {
		return append(out, reply...), false
	}
	return out, true
}

// metaMissed reports whether an mg's reply is a miss (EN, with the k and
// O flags echoed if asked, or nothing: a quiet mg's miss) or a failure,
// which sends the mg to the next owner.
func metaMissed(reply []byte) bool {
	return len(reply) == 0 || bytes.HasPrefix(reply, []byte("EN\r\n")) || bytes.HasPrefix(reply, []byte("EN ")) ||
		bytes.HasPrefix(reply, []byte("SERVER_ERROR "))
}

// metaRead is a read-only mg in flight over a key's other owners, one at
// a time (each step starts from the previous one's reply: no lock).
type metaRead struct {
	p     *Pool
	w     upstream.Waiter
	lp    eventloop.Loop // the loop the current step runs on, or nil
	raw   []byte         // the client's mg, encoded: parsed again for each owner
	order []string
	next  int
	last  []byte // the last owner's reply
	req   memcache.Request
}

// advance sends the mg to the owners from mr.next on until one has the
// key; it returns the client's reply, or pending while a peer's is
// awaited.
func (mr *metaRead) advance() (reply []byte, pending bool) {
	for mr.next < len(mr.order) {
		o := mr.order[mr.next]
		mr.next++
		if _, err := (&memcache.Parser{}).Parse(mr.raw, &mr.req); err != nil {
			return append([]byte(nil), memcache.ReplyError...), false
		}
		if o == mr.p.cfg.Self {
			r, _ := mr.p.cfg.Local.Serve(&mr.req, nil, nil)
			if !mr.took(r) {
				return mr.last, false
			}
			continue
		}
		l := mr.p.cfg.Links.Link(o)
		if l == nil {
			mr.p.peerFails.Add(1)
			mr.last = replyNoOwner
			continue
		}
		mr.p.forwarded.Add(1)
		r, async := l.Serve(&mr.req, nil, mr)
		if async {
			return nil, true
		}
		if !mr.took(r) {
			return r, false
		}
	}
	return mr.last, false
}

// took records an owner's reply and reports whether to ask the next one.
func (mr *metaRead) took(r []byte) bool {
	mr.last = append(mr.last[:0:0], r...)
	if !metaMissed(r) {
		return false
	}
	if bytes.HasPrefix(r, []byte("SERVER_ERROR ")) {
		mr.p.peerFails.Add(1)
	}
	return mr.next < len(mr.order)
}

// Done implements upstream.Waiter: a peer's reply arrived off the loop.
func (mr *metaRead) Done(reply []byte) {
	mr.lp = nil
	mr.resume(reply)
}

// Loop implements upstream.LoopWaiter.
func (mr *metaRead) Loop() eventloop.Loop { return mr.lp }

// DoneOnLoop implements upstream.LoopWaiter.
func (mr *metaRead) DoneOnLoop(reply []byte) { mr.resume(reply) }

func (mr *metaRead) resume(r []byte) {
	reply := mr.last
	if mr.took(r) {
		var pending bool
		if reply, pending = mr.advance(); pending {
			return
		}
	} else {
		reply = mr.last
	}
	upstream.Complete(mr.w, mr.lp, reply)
}
