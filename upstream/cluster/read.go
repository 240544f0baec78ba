package cluster

import (
	"bytes"
	"slices"
	"strconv"
	"sync"

	"github.com/fae-sidecar/fae/eventloop"
	"github.com/fae-sidecar/fae/peers/ring"
	"github.com/fae-sidecar/fae/proto/memcache"
	"github.com/fae-sidecar/fae/upstream"
)

// serveRead serves a single-key get or gets: from the local store when
// this sidecar is the key's primary owner and holds it (on the loop,
// without allocating), else from the owners in ring order (read).
func (p *Pool) serveRead(r *ring.Ring, req *memcache.Request, out []byte, w upstream.Waiter) ([]byte, bool) {
	var ob [MaxReplicas]string
	key := req.Keys[0]
	owners := p.owners(r, key, ob[:0])
	primary := owners[0] == p.cfg.Self
	if primary {
		mark := len(out)
		out, _ = p.cfg.Local.Serve(req, out, nil)
		if string(out[mark:]) != memcache.ReplyEnd {
			return out, false
		}
		out = out[:mark]
	}
	rd := p.newRead(owners, key, req.Cmd == memcache.CmdGets, primary)
	rd.w, rd.lp = w, upstream.LoopOf(w)
	if reply, pending := rd.advance(); !pending {
		return append(out, reply...), false
	}
	return out, true
}

// serveMulti serves a get or gets of several keys, split per primary
// owner: this sidecar's keys from the local store at once, the others'
// as one get per owner; a key its primary misses or fails is then read
// alone from the next owners (read, with repair). The parts are merged in
// request order.
func (p *Pool) serveMulti(r *ring.Ring, req *memcache.Request, out []byte, w upstream.Waiter) ([]byte, bool) {
	gets := req.Cmd == memcache.CmdGets
	g := &gather{w: w, lp: upstream.LoopOf(w), parts: make([][]byte, len(req.Keys)), left: len(req.Keys) + 1}
	var ob [MaxReplicas]string
	one := memcache.Request{Cmd: req.Cmd, Keys: make([][]byte, 1)}
	var buf []byte
	var batches []*batch
	for i, key := range req.Keys {
		owners := p.owners(r, key, ob[:0])
		if owners[0] != p.cfg.Self {
			b := batchOf(&batches, owners[0])
			b.idx = append(b.idx, i)
			b.keys = append(b.keys, bytes.Clone(key)) // read again when the reply comes
			b.owners = append(b.owners, slices.Clone(owners))
			continue
		}
		one.Keys[0] = key
		buf, _ = p.cfg.Local.Serve(&one, buf[:0], nil)
		if string(buf) != memcache.ReplyEnd {
			g.part(i, buf)
			continue
		}
		rd := p.newRead(owners, key, gets, true)
		rd.g, rd.gi, rd.lp = g, i, g.lp
		if reply, pending := rd.advance(); !pending {
			g.part(i, reply)
		}
	}
	for _, b := range batches {
		b.p, b.g, b.gets, b.lp = p, g, gets, g.lp
		l := p.cfg.Links.Link(b.owner)
		if l == nil {
			b.settle(replyNoOwner)
			continue
		}
		p.forwarded.Add(1)
		breq := memcache.Request{Cmd: req.Cmd, Keys: b.keys}
		if reply, async := l.Serve(&breq, nil, b); !async {
			b.settle(reply)
		}
	}
	if g.part(-1, nil) {
		return g.merge(out), false
	}
	return out, true
}

// batch is the keys of a multi-get whose primary owner is one peer, asked
// in one get.
type batch struct {
	p      *Pool
	g      *gather
	gets   bool
	lp     eventloop.Loop // the loop its reply arrives on, or nil
	owner  string
	idx    []int      // the keys' places in the request
	keys   [][]byte   // copies
	owners [][]string // each key's owners
}

// batchOf returns the batch of owner in *bs, added if new.
func batchOf(bs *[]*batch, owner string) *batch {
	for _, b := range *bs {
		if b.owner == owner {
			return b
		}
	}
	b := &batch{owner: owner}
	*bs = append(*bs, b)
	return b
}

// Done implements upstream.Waiter: the owner's reply arrived off the loop.
func (b *batch) Done(reply []byte) {
	b.lp = nil
	if b.settle(reply) {
		upstream.Complete(b.g.w, nil, b.g.merge(nil))
	}
}

// Loop implements upstream.LoopWaiter.
func (b *batch) Loop() eventloop.Loop { return b.lp }

// DoneOnLoop implements upstream.LoopWaiter.
func (b *batch) DoneOnLoop(reply []byte) {
	if b.settle(reply) {
		upstream.Complete(b.g.w, b.lp, b.g.merge(nil))
	}
}

// settle hands each key's VALUE block in reply to the gather, and reads
// the keys the owner missed or failed from their next owners. It reports
// whether that finished the gather.
func (b *batch) settle(reply []byte) (last bool) {
	failed := !bytes.HasSuffix(reply, []byte(memcache.ReplyEnd))
	if failed {
		b.p.peerFails.Add(1)
	}
	rest := reply
	for j, key := range b.keys {
		if !failed {
			if k, block, after, ok := memcache.NextValue(rest); ok && bytes.Equal(k, key) {
				rest = after
				last = b.g.put(b.idx[j], block)
				continue
			}
		}
		rd := b.p.newRead(b.owners[j], key, b.gets, !failed)
		if failed {
			rd.next, rd.lastErr = 1, bytes.Clone(reply)
		}
		rd.g, rd.gi, rd.lp = b.g, b.idx[j], b.lp
		if r, pending := rd.advance(); !pending {
			last = b.g.part(b.idx[j], r)
		}
	}
	return last
}

// read is a get of one key in flight over the owners that may hold it,
// one at a time. Its steps run one after the other (a step starts from
// the previous one's reply), so it needs no lock.
type read struct {
	p     *Pool
	w     upstream.Waiter // the client's; nil for a part of a gather
	g     *gather
	gi    int
	lp    eventloop.Loop // the loop the current step runs on, or nil
	key   []byte
	gets  bool
	order []string // the owners to ask, in ring order
	next  int
	// missed are the owners that answered a miss: a hit further on is set
	// back there.
	missed  []string
	lastErr []byte
	req     memcache.Request // the mg sent to a peer
	reply   []byte
	keys    [1][]byte // req.Keys
	tokens  [8]byte   // req.Meta.Tokens
}

// newRead returns the read of key from owners; asked says the first owner
// (this sidecar) was asked and missed.
func (p *Pool) newRead(owners []string, key []byte, gets, asked bool) *read {
	rd := &read{p: p, key: bytes.Clone(key), gets: gets, order: slices.Clone(owners)}
	if asked {
		rd.next, rd.missed = 1, rd.order[:1:1]
	}
	// mg <key> v f t c: the value, its flags, remaining ttl and cas, so a
	// hit can be answered as get answers and set back where it missed.
	rd.keys[0] = rd.key
	rd.req = memcache.Request{Cmd: memcache.CmdMetaGet, Keys: rd.keys[:]}
	rd.req.Meta.Tokens = rd.tokens[:0]
	for _, f := range []byte("vftc") {
		rd.req.Meta.AddFlag(f)
	}
	return rd
}

// advance asks the owners from rd.next on until one has the key. It
// returns the client's reply, or pending when a peer's reply is awaited
// (Done or DoneOnLoop continue).
func (rd *read) advance() (reply []byte, pending bool) {
	for rd.next < len(rd.order) {
		o := rd.order[rd.next]
		if o == rd.p.cfg.Self {
			rd.reply, _ = rd.p.cfg.Local.Serve(&rd.req, rd.reply[:0], nil)
			if reply, done := rd.step(rd.reply); done {
				return reply, false
			}
			continue
		}
		l := rd.p.cfg.Links.Link(o)
		if l == nil {
			rd.next++
			rd.lastErr = replyNoOwner
			rd.p.peerFails.Add(1)
			continue
		}
		rd.p.forwarded.Add(1)
		r, async := l.Serve(&rd.req, rd.reply[:0], rd)
		if async {
			return nil, true
		}
		rd.reply = r
		if reply, done := rd.step(r); done {
			return reply, false
		}
	}
	if len(rd.missed) > 0 || rd.lastErr == nil {
		return []byte(memcache.ReplyEnd), false
	}
	return rd.lastErr, false
}

// step takes owner rd.order[rd.next]'s reply to the mg and moves on: the
// client's reply and true on a hit, false to ask the next owner.
func (rd *read) step(r []byte) ([]byte, bool) {
	o := rd.order[rd.next]
	rd.next++
	if string(r) == "EN\r\n" {
		rd.missed = append(rd.missed, o)
		return nil, false
	}
	v, ok := parseVA(r)
	if !ok {
		rd.lastErr = append([]byte(nil), r...)
		rd.p.peerFails.Add(1)
		return nil, false
	}
	rd.repair(v)
	return v.appendGet(make([]byte, 0, len(rd.key)+len(v.data)+64), rd.key, rd.gets), true
}

// Done implements upstream.Waiter: a peer's reply arrived off the loop.
func (rd *read) Done(reply []byte) {
	rd.lp = nil // the steps from here on run on no loop
	rd.resume(reply)
}

// Loop implements upstream.LoopWaiter.
func (rd *read) Loop() eventloop.Loop { return rd.lp }

// DoneOnLoop implements upstream.LoopWaiter.
func (rd *read) DoneOnLoop(reply []byte) { rd.resume(reply) }

func (rd *read) resume(r []byte) {
	reply, done := rd.step(r)
	if !done {
		var pending bool
		if reply, pending = rd.advance(); pending {
			return
		}
	}
	if rd.g != nil {
		if rd.g.part(rd.gi, reply) {
			upstream.Complete(rd.g.w, rd.lp, rd.g.merge(nil))
		}
		return
	}
	upstream.Complete(rd.w, rd.lp, reply)
}

// repair sets v back at the owners that missed it, with add: a value
// written there meanwhile wins.
func (rd *read) repair(v value) {
	if len(rd.missed) == 0 {
		return
	}
	ms := memcache.Request{Cmd: memcache.CmdMetaSet, Keys: [][]byte{rd.key}, Data: v.data}
	addItemFlags(&ms.Meta, v)
	ms.Meta.AddMode('E')
	for _, o := range rd.missed {
		if o == rd.p.cfg.Self {
			rd.p.repairs.Add(1)
			_, _ = rd.p.cfg.Local.Serve(&ms, nil, nil)
			continue
		}
		if l := rd.p.cfg.Links.Link(o); l != nil {
			rd.p.repairs.Add(1)
			_, _ = l.Serve(&ms, nil, discard{})
		}
	}
}

// discard is the waiter of a repair: nobody reads its reply.
type discard struct{}

func (discard) Done([]byte) {}

// value is a hit of an mg v f t c.
type value struct {
	flags uint32
	ttl   int64
	cas   uint64
	data  []byte
}

// parseVA reads "VA <size> f<flags> t<ttl> c<cas>\r\n<data>\r\n"; the data
// is copied.
func parseVA(r []byte) (value, bool) {
	var v value
	line, rest, ok := bytes.Cut(r, []byte("\r\n"))
	if !ok || !bytes.HasPrefix(line, []byte("VA ")) {
		return v, false
	}
	sz, flags, _ := bytes.Cut(line[3:], []byte(" "))
	size, err := strconv.Atoi(string(sz))
	if err != nil || size < 0 || len(rest) != size+2 {
		return v, false
	}
	for len(flags) > 0 {
		var f []byte
		f, flags, _ = bytes.Cut(flags, []byte(" "))
		if len(f) < 2 {
			return v, false
		}
		n, err := strconv.ParseInt(string(f[1:]), 10, 64)
		if err != nil {
			return v, false
		}
		switch f[0] {
		case 'f':
			v.flags = uint32(n)
		case 't':
			v.ttl = n
		case 'c':
			v.cas = uint64(n)
		}
	}
	v.data = bytes.Clone(rest[:size])
	return v, true
}

// appendGet appends v as get (gets: with its cas) answers it.
func (v value) appendGet(out, key []byte, gets bool) []byte {
	return append(memcache.AppendValue(out, key, v.flags, v.data, v.cas, gets), memcache.ReplyEnd...)
}

// gather merges the parts of a multi-key get in request order.
type gather struct {
	w  upstream.Waiter
	lp eventloop.Loop

	mu    sync.Mutex
	parts [][]byte // each key's VALUE block, or nil
	left  int      // parts yet to come, plus one while Serve runs
}

// part records key i's reply (i < 0: Serve is done) and reports whether
// it was the last one awaited. A miss or an error leaves the key out.
func (g *gather) part(i int, reply []byte) bool {
	if i >= 0 && bytes.HasPrefix(reply, []byte("VALUE ")) && bytes.HasSuffix(reply, []byte(memcache.ReplyEnd)) {
		return g.put(i, reply[:len(reply)-len(memcache.ReplyEnd)])
	}
	return g.put(i, nil)
}

// put records key i's VALUE block (nil: none), as part does.
func (g *gather) put(i int, block []byte) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if i >= 0 && block != nil {
		g.parts[i] = bytes.Clone(block)
	}
	g.left--
	return g.left == 0
}

// merge appends the merged reply to out.
func (g *gather) merge(out []byte) []byte {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, p := range g.parts {
		out = append(out, p...)
	}
	return append(out, memcache.ReplyEnd...)
}
