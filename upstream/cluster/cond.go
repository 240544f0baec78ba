package cluster

import (
	"bytes"
	"slices"

	"github.com/fae-sidecar/fae/eventloop"
	"github.com/fae-sidecar/fae/proto/memcache"
	"github.com/fae-sidecar/fae/upstream"
)

// A conditional or relative write is decided by one owner. Sent to every
// owner at once, each would decide on its own item and the owners would
// diverge: a cas whose unique came from the primary is stored there and
// refused (EXISTS) by a replica, which keeps the old value and serves it
// once the primary dies; an add refused by the primary is stored by a
// restarted, empty replica; an incr adds to different numbers. So such a
// write goes to the first live owner in ring order (the primary, unless it
// fails), and only once that owner succeeded is the item it made set at
// the owners after it, unconditionally, before the client's reply.

// writeKind is how a write reaches a key's owners.
type writeKind uint8

const (
	// writeAll: decided by no owner (set, delete, touch...): every owner
	// at once.
	writeAll writeKind = iota
	// writeCond: a condition on the item (cas, add, replace, ms with C or
	// mode E or R, md with C): the first owner, then the request made
	// unconditional (set, ms, md) to the rest.
	writeCond
	// writeRel: relative to the item (append, prepend, incr, decr, ma, ms
	// mode A or P): the first owner, then its item read back (mg v f t)
	// and set at the rest with its flags and remaining ttl.
	writeRel
	// writeFirst: a read that leaves state at the owner it reads (mg with
	// N or R: the stub and the win flag of stale-while-revalidate): the
	// first live owner alone, so one client wins, at one place.
	writeFirst
)

// kindOf returns how req, a write, reaches its owners.
func kindOf(req *memcache.Request) writeKind {
	switch req.Cmd {
	case memcache.CmdAdd, memcache.CmdReplace, memcache.CmdCas:
		return writeCond
	case memcache.CmdAppend, memcache.CmdPrepend, memcache.CmdIncr, memcache.CmdDecr, memcache.CmdMetaArith:
		return writeRel
	case memcache.CmdMetaSet:
		switch req.Meta.Mode {
		case 'A', 'P':
			return writeRel
		case 'E', 'R':
			return writeCond
		}
		if req.Meta.Has('C') {
			return writeCond
		}
	case memcache.CmdMetaDelete:
		if req.Meta.Has('C') {
			return writeCond
		}
	case memcache.CmdMetaGet:
		if req.Meta.Has('N') || req.Meta.Has('R') {
			return writeFirst
		}
	}
	return writeAll
}

// cond is a conditional or relative write in flight. Its steps run one
// after the other (each starts from the previous one's reply), so it needs
// no lock; the last one, the write to the rest of the owners, is a fan.
type cond struct {
	p       *Pool
	w       upstream.Waiter
	lp      eventloop.Loop // the loop the current step runs on, or nil
	kind    writeKind
	owners  []string
	next    int  // the owner asked
	noReply bool // the client's
	reading bool // the deciding owner's item is being read back
	req     memcache.Request
	reply   []byte // the deciding owner's answer, or the last failure
	// back is the read-back, then the write to the rest of the owners.
	back   memcache.Request
	tokens [40]byte // back.Meta.Tokens
}

// serveCond serves a conditional or relative write (kind) of a key with
// several owners: see cond.
func (p *Pool) serveCond(owners []string, kind writeKind, req *memcache.Request, out []byte, w upstream.Waiter) ([]byte, bool) {
	c := &cond{p: p, w: w, lp: upstream.LoopOf(w), kind: kind, owners: slices.Clone(owners), noReply: req.NoReply}
	req.CopyTo(&c.req, nil) // used again once a peer answered
	c.req.NoReply = false   // the deciding owner answers; the client's noreply is applied to its answer
	if reply, pending := c.ask(); !pending {
		return append(out, reply...), false
	}
	return out, true
}

// ask sends the write to the owners from c.next on until one answers
// other than with a failure. It returns the client's reply, or pending
// when a peer's reply is awaited (Done or DoneOnLoop continue).
func (c *cond) ask() ([]byte, bool) {
	for ; c.next < len(c.owners); c.next++ {
		o := c.owners[c.next]
		if o == c.p.cfg.Self {
			r, _ := c.p.cfg.Local.Serve(&c.req, nil, nil)
			return c.decided(r)
		}
		l := c.p.cfg.Links.Link(o)
		if l == nil {
			c.p.peerFails.Add(1)
			c.reply = replyNoOwner
			return c.client(), false // as for a peer that failed (resume)
		}
		c.p.forwarded.Add(1)
		r, async := l.Serve(&c.req, nil, c)
		if async {
			return nil, true
		}
		return c.resume(r)
	}
	return c.client(), false // every owner failed: the last failure
}

// resume takes a peer's reply r to the current step and goes on.
func (c *cond) resume(r []byte) ([]byte, bool) {
	if c.reading {
		return c.readBack(r)
	}
	if bytes.HasPrefix(r, []byte("SERVER_ERROR ")) {
		// The peer failed: the write is not sent to the next owner, which
		// would decide it while this one, still on the ring, kept its older
		// item (see fan.choice). The client gets the failure.
		c.p.peerFails.Add(1)
		c.reply = bytes.Clone(r)
		return c.client(), false
	}
	return c.decided(r)
}

// decided takes the deciding owner's answer r: the client's reply, and
// when it is a success, the owners after it are written first.
func (c *cond) decided(r []byte) ([]byte, bool) {
	c.reply = bytes.Clone(r)
	rest := c.owners[c.next+1:]
	if !succeeded(r) || len(rest) == 0 || c.kind == writeFirst {
		return c.client(), false
	}
	if c.kind == writeCond {
		c.unconditional()
		return c.p.propagate(rest, &c.back, c.w, c.client())
	}
	b := c.start(memcache.CmdMetaGet)
	for _, f := range []byte("vft") {
		b.Meta.AddFlag(f)
	}
	c.reading = true
	o := c.owners[c.next]
	if o == c.p.cfg.Self {
		r, _ := c.p.cfg.Local.Serve(b, nil, nil)
		return c.readBack(r)
	}
	l := c.p.cfg.Links.Link(o)
	if l == nil {
		return c.readBack(replyNoOwner)
	}
	c.p.forwarded.Add(1)
	if r, async := l.Serve(b, nil, c); !async {
		return c.readBack(r)
	}
	return nil, true
}

// readBack takes the deciding owner's item (the reply to mg v f t) and
// sets it at the owners after it. An item it no longer holds, or could
// not read, is deleted there: a replica that misses a key is refilled by
// the next read, one that holds an older value would serve it.
func (c *cond) readBack(r []byte) ([]byte, bool) {
	c.reading = false
	if v, ok := parseVA(r); ok {
		b := c.start(memcache.CmdMetaSet)
		b.Data = v.data
		addItemFlags(&b.Meta, v)
	} else {
		if string(r) != "EN\r\n" {
			c.p.peerFails.Add(1)
		}
		c.start(memcache.CmdMetaDelete)
	}
	return c.p.propagate(c.owners[c.next+1:], &c.back, c.w, c.client())
}

// unconditional sets c.back to the write the deciding owner made, without
// its condition: set for cas, add and replace; ms with the request's
// flags and ttl (T) for an ms; md for an md.
func (c *cond) unconditional() {
	m := &c.req.Meta
	switch c.req.Cmd {
	case memcache.CmdMetaSet:
		if m.Has('T') && m.TTL < 0 { // expired at once: the item is gone
			c.start(memcache.CmdMetaDelete)
			return
		}
		b := c.start(memcache.CmdMetaSet)
		b.Data = c.req.Data
		if m.Has('F') {
			b.Meta.AddValue('F', uint64(m.Flags))
		}
		if m.Has('T') {
			b.Meta.AddValue('T', uint64(m.TTL))
		}
	case memcache.CmdMetaDelete:
		b := c.start(memcache.CmdMetaDelete)
		if m.Has('I') { // marked stale rather than removed
			b.Meta.AddFlag('I')
			if m.Has('T') && m.TTL >= 0 {
				b.Meta.AddValue('T', uint64(m.TTL))
			}
		}
	default:
		c.back = c.req
		c.back.Cmd, c.back.Cas = memcache.CmdSet, 0
	}
}

// start sets c.back to a meta command cmd of the write's key (flag b
// kept) and returns it.
func (c *cond) start(cmd memcache.Command) *memcache.Request {
	c.back = memcache.Request{Cmd: cmd, Keys: c.req.Keys[:1]}
	c.back.Meta.Tokens = c.tokens[:0]
	if c.req.Cmd.IsMeta() && c.req.Meta.Has('b') {
		c.back.Meta.AddFlag('b')
	}
	return &c.back
}

// client is the client's reply: the deciding owner's answer, none for
// noreply.
func (c *cond) client() []byte {
	if c.noReply {
		return nil
	}
	return c.reply
}

// succeeded reports whether r, an owner's answer to a conditional or
// relative write, says it was applied: STORED, DELETED, HD, VA, a number
// (incr, decr), or nothing (a quiet meta command's success). Anything else
// (NOT_STORED, EXISTS, NOT_FOUND, NS, EX, NF, an error) changed nothing.
func succeeded(r []byte) bool {
	switch {
	case len(r) == 0, string(r) == "STORED\r\n", string(r) == "DELETED\r\n":
		return true
	case r[0] >= '0' && r[0] <= '9':
		return true
	case len(r) > 2 && string(r[:2]) == "HD" && (r[2] == ' ' || r[2] == '\r'):
		return true
	}
	return bytes.HasPrefix(r, []byte("VA "))
}

// Done implements upstream.Waiter: a peer's reply arrived off the loop.
func (c *cond) Done(reply []byte) {
	c.lp = nil // the steps from here on run on no loop
	c.finish(c.resume(reply))
}

// Loop implements upstream.LoopWaiter.
func (c *cond) Loop() eventloop.Loop { return c.lp }

// DoneOnLoop implements upstream.LoopWaiter.
func (c *cond) DoneOnLoop(reply []byte) { c.finish(c.resume(reply)) }

// finish answers the client unless a later step is pending (which
// answers it then).
func (c *cond) finish(reply []byte, pending bool) {
	if !pending {
		upstream.Complete(c.w, c.lp, reply)
	}
}

// addItemFlags adds to an ms that sets v its flags (F) and remaining ttl
// (T: none is T0, and less than a second T1, not T0).
func addItemFlags(m *memcache.MetaFlags, v value) {
	m.AddValue('F', uint64(v.flags))
	ttl := uint64(max(v.ttl, 0))
	if v.ttl == 0 {
		ttl = 1
	}
	m.AddValue('T', ttl)
}
