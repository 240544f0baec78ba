package memcache

import (
	"github.com/fae-sidecar/fae/proto/memcache"
	"github.com/fae-sidecar/fae/upstream"
	"github.com/fae-sidecar/fae/upstream/breaker"
	"github.com/fae-sidecar/fae/upstream/pipeline"
)

// op is one request queued on a connection: the pool's pipeline.Op. It is
// taken from Pool.ops (or its loop's loopOps) in Serve and put back by
// whoever hands its reply over (answer or fail).
type op struct {
	p   *Pool
	req memcache.Request // what Encode sends; views that die with Serve's call, read only within Enqueue
	f   memcache.Frame   // its reply so far; f.Kind is the reply it expects
	srv int              // the index of its server in p.servers

	ticket breaker.Ticket // its server's breaker's, reported when it is answered

	w       upstream.Waiter
	lw      upstream.LoopWaiter // on the loop transport: w, answered on its loop
	free    *loopOps            // on the loop transport: where o is recycled
	g       *gather             // set for a part of a fanned-out request
	sub     int                 // the part's index in g
	cmd     memcache.Command
	stat    memcache.Command // the counters it bumps (statOf)
	origin  memcache.Origin  // what the request stands for (see countMeta)
	noReply bool
	quiet   bool // a meta command with q, sent without it
	probe   bool // a "version" health check, not a client's request
	nkeys   int
}

var _ pipeline.Op = (*op)(nil)

// Encode implements pipeline.Op: the request, or "version" for a probe.
func (o *op) Encode(b []byte) []byte {
	if o.probe {
		return append(b, "version\r\n"...)
	}
	return memcache.AppendRequest(b, &o.req)
}

// Scan implements pipeline.Op with memcache.Frame.
func (o *op) Scan(b []byte) (pipeline.Progress, error) {
	err := o.f.Scan(b)
	return pipeline.Progress{N: o.f.N, Data: o.f.Data, Done: o.f.Done}, err
}

// Done implements pipeline.Op: it hands a server's reply to whoever waits
// for o, then recycles o. A probe is answered by any VERSION line.
func (o *op) Done(reply []byte) bool {
	p := o.p
	if o.probe {
		ok := len(reply) >= 8 && string(reply[:8]) == "VERSION "
		p.putOp(o)
		return ok
	}
	p.servers[o.srv].report(o.ticket, true)
	p.answer(o, reply)
	return true
}

// Fail implements pipeline.Op: it answers o with its server's SERVER_ERROR
// line for why.
func (o *op) Fail(why pipeline.Reason) {
	s := o.p.servers[o.srv]
	if !o.probe {
		s.report(o.ticket, false)
	}
	o.p.fail(o, s.lines[why])
}

// newProbe is the pipeline's Config.Probe.
func (p *Pool) newProbe() pipeline.Op {
	o := p.ops.Get().(*op)
	o.probe = true
	return o // o.f: a line (memcache.FrameLine)
}

// loopOps recycles the ops of one event loop's requests; only that loop
// uses it (until it stops: then Close, which fails what is left).
type loopOps struct {
	free []*op
}

// getOp returns an op for a request on pt's transport.
func (p *Pool) getOp(pt path) *op {
	if pt.ops == nil {
		return p.ops.Get().(*op)
	}
	var o *op
	if n := len(pt.ops.free); n > 0 {
		o = pt.ops.free[n-1]
		pt.ops.free[n-1] = nil
		pt.ops.free = pt.ops.free[:n-1]
	} else {
		o = &op{p: p}
	}
	o.lw, o.free = pt.lw, pt.ops
	return o
}

// putOp clears o, dropping its views of a client's buffers, and recycles
// it.
func (p *Pool) putOp(o *op) {
	free := o.free
	*o = op{p: p}
	if free != nil {
		free.free = append(free.free, o)
		return
	}
	p.ops.Put(o)
}

// done hands reply to the client's waiter of o.
func (o *op) done(reply []byte) {
	if o.lw != nil {
		o.lw.DoneOnLoop(reply)
		return
	}
	o.w.Done(reply)
}

// answer hands a server's reply to a client's request o (not a probe),
// then recycles o.
func (p *Pool) answer(o *op, reply []byte) {
	f := &o.f
	if f.Kind == memcache.FrameMetaFenced {
		reply, o.quiet = memcache.Unfence(reply), false
	}
	p.st.countReply(o, reply, f)
	switch {
	case o.g != nil:
		o.g.partDone(o.sub, reply, f.Kind == memcache.FrameLine || f.End)
	case o.noReply, o.quiet && memcache.MetaQuietDropCode(o.cmd, reply):
		o.done(nil)
	default:
		o.done(reply)
	}
	p.putOp(o)
}

// fail answers o with line (a SERVER_ERROR line of the pool).
func (p *Pool) fail(o *op, line []byte) {
	if !o.probe {
		p.st.errors.Add(1)
		switch {
		case o.g != nil:
			o.g.partDone(o.sub, line, false)
		case o.noReply:
			o.done(nil)
		default:
			o.done(line)
		}
	}
	p.putOp(o)
}
