package pipeline

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/fae-sidecar/fae/eventloop"
)

// lconn is one connection of the loop transport to a server, living on one
// event loop: the gnet context (eventloop.Conn) of each of its sessions.
// Everything but the channels is owned by the loop. It keeps the goroutine
// transport's states (connState): requests queue while connecting, go out
// when ready, and are refused with why otherwise.
type lconn struct {
	lp  *Lane
	srv *server

	state  connState
	why    Reason    // why the connection does not take requests
	gc     gnet.Conn // the current session; nil between sessions
	endWhy Reason    // why the pipeline ended the current session itself

	q       []entry // ring of queued and in-flight ops: MaxPending, and probes
	head, n int
	probes  int      // probes in q, which MaxPending does not count
	unsent  int      // the last unsent ops of q have their bytes in out
	out     []byte   // encoded requests not yet written
	prog    Progress // how far the head's reply was framed, when inReply
	inReply bool

	lastUse   int64  // clock() of the last request or reply, for health pings
	lastWrite int64  // lastUse when the connection last wrote (see write)
	lastReply int64  // clock() of the last reply (see conn.lastReply)
	wasUp     bool   // the current session reached stateReady
	dirty     bool   // on lp.dirty
	flushNow  bool   // write at the next flush even with requests in flight
	seen      uint64 // srv.suspects when last looked at
	hurried   bool   // hurry was sent since the last session opened

	// Shared with the dialer goroutine.
	ended chan bool     // cap 1: a session ended; whether it had been ready
	hurry chan struct{} // cap 1: skip the backoff (hurryDial, Pipeline.Redial)
}

var _ eventloop.Conn = (*lconn)(nil)

func newLConn(lp *Lane, s *server) *lconn {
	return &lconn{
		lp:    lp,
		srv:   s,
		q:     make([]entry, lp.p.cfg.MaxPending+maxProbes),
		seen:  s.suspects.Load(),
		ended: make(chan bool, 1),
		hurry: make(chan struct{}, 1),
	}
}

func (lc *lconn) push(e entry) {
	if lc.lp.quiet {
		lc.lp.busy()
	}
	lc.q[(lc.head+lc.n)%len(lc.q)] = e
	lc.n++
	lc.unsent++
}

func (lc *lconn) pop() {
	if lc.q[lc.head].probe {
		lc.probes--
	}
	lc.q[lc.head] = entry{}
	lc.head = (lc.head + 1) % len(lc.q)
	lc.n--
}

// outbound is the bytes written but not yet taken by the socket.
func (lc *lconn) outbound() int {
	if lc.gc == nil {
		return 0
	}
	return lc.gc.OutboundBuffered()
}

// holdMax bounds the bytes of requests a connection holds back while
// others are in flight.
const holdMax = 16 << 10

// write sends the buffered requests. While requests sent earlier are
// unanswered, and the last write is younger than HoldFor, new ones wait (up
// to holdMax bytes) for the server's next bytes to arrive, which write them
// all at once (flushNow), as Nagle's algorithm does: on loopback the server
// often answers within HoldFor, so under load one write and one read carry
// many requests each, whatever the number of clients; idle, a request
// leaves at once. The bound is for a server across a network hop: its
// answer takes a round trip, which a request that comes HoldFor after the
// last write no longer waits for (it leaves, and those held before it).
// The time is lastUse, the clock read when the newest request was queued
// (write runs at the end of that loop event), so the hold reads no clock of
// its own. A write that fails closes the session at once, and OnClose fails
// its requests.
func (lc *lconn) write() {
	if lc.gc == nil || len(lc.out) == 0 {
		return // still dialling: the requests go once the session opens
	}
	if lc.holds() {
		return // OnTraffic writes them when the server's next bytes are in
	}
	lc.flushNow = false
	lc.lastWrite = lc.lastUse
	out := lc.out
	lc.out, lc.unsent = out[:0], 0
	_, _ = lc.gc.Write(out)
	if cap(out) > maxKeptBuf {
		lc.out = nil
	}
}

// holds reports whether write keeps the buffered requests back.
func (lc *lconn) holds() bool {
	return lc.n > lc.unsent && !lc.flushNow && len(lc.out) < holdMax && lc.lastUse-lc.lastWrite < lc.lp.p.holdFor
}

// failAll answers every queued op with why and forgets their bytes.
func (lc *lconn) failAll(why Reason) {
	for lc.n > 0 {
		e := lc.q[lc.head]
		lc.pop()
		e.op.Fail(why)
	}
	lc.unsent, lc.out, lc.inReply = 0, lc.out[:0], false
}

// setDown leaves stateReady/Probing/Connecting for stateDown (or keeps
// stateClosed) and records why.
func (lc *lconn) setDown(why Reason) {
	if lc.state == stateReady {
		lc.srv.ready.Add(-1)
	}
	if lc.state != stateClosed {
		lc.state, lc.why = stateDown, why
	}
}

func (lc *lconn) setReady() {
	if lc.state != stateReady {
		lc.srv.ready.Add(1)
	}
	lc.state, lc.why, lc.wasUp = stateReady, ReasonNone, true
}

// maxProbes bounds the probes queued at once: a session's first, or a
// health ping or a suspicion's (only when ready), and one more for safety.
const maxProbes = 2

// pushProbe queues a probe, if there is room.
func (lc *lconn) pushProbe(now int64) {
	if lc.n == len(lc.q) || lc.probes == maxProbes {
		return
	}
	lc.probes++
	o := lc.lp.p.cfg.Probe()
	lc.out = o.Encode(lc.out)
	lc.push(entry{op: o, enq: now, probe: true})
	lc.lastUse = now
	lc.lp.markDirty(lc)
}

// suspect is conn.suspect for a loop connection: a connection of the same
// server (of either transport) timed out.
func (lc *lconn) suspect(now int64) {
	lc.seen = lc.srv.suspects.Load()
	if lc.gc == nil {
		return
	}
	switch lc.state {
	case stateConnecting:
		lc.state, lc.why = stateProbing, ReasonTimeout
	case stateReady:
		lc.srv.ready.Add(-1)
		lc.state, lc.why = stateProbing, ReasonTimeout
		lc.pushProbe(now)
	}
}

// check is the watchdog's visit (conn.check): a connection whose oldest
// request is late and that has read no reply for a Timeout is cut; an idle
// ready one is pinged.
func (lc *lconn) check(now int64) {
	if lc.seen != lc.srv.suspects.Load() {
		lc.suspect(now)
	}
	p := lc.lp.p
	switch {
	case lc.n > 0 && p.late(lc.q[lc.head], now) && now-lc.lastReply > p.timeout:
		if lc.gc != nil {
			for _, sib := range lc.srv.conns {
				sib.suspect(now)
			}
			lc.seen = lc.srv.suspects.Add(1)
			p.timeouts.Add(1)
			lc.endWhy = ReasonTimeout
			// OnClose, from within this call, fails what is queued.
			_ = lc.lp.loop.EventLoop().Close(lc.gc)
			return
		}
		// Still dialling: nothing was sent, so the queue can just go.
		lc.failAll(ReasonTimeout)
	case lc.state == stateReady && lc.n == 0 && now-lc.lastUse > int64(p.cfg.HealthInterval):
		lc.pushProbe(now)
	}
}

// OnOpen implements eventloop.Conn: a session is up. As on the goroutine
// transport it starts with a probe, and only the probe's answer makes the
// connection ready; requests queued during the first dial go out ahead of
// it.
func (lc *lconn) OnOpen(c gnet.Conn) gnet.Action {
	if lc.state == stateClosed || lc.gc != nil {
		return gnet.Close
	}
	now := lc.lp.p.clock()
	lc.gc, lc.endWhy, lc.wasUp, lc.hurried = c, ReasonNone, false, false
	drain(lc.hurry) // a hurry that came while dialling has been served
	lc.lastReply = now
	if lc.state != stateConnecting {
		lc.state = stateProbing // lc.why still says why it went down
	}
	lc.pushProbe(now)
	lc.lp.markDirty(lc) // what queued meanwhile goes out, probe or not
	return gnet.None
}

// OnTraffic implements eventloop.Conn: it pairs each whole reply in the
// inbound buffer with the oldest request sent and answers it, on the loop.
// Any doubt about the pairing ends the session (see conn).
func (lc *lconn) OnTraffic(c gnet.Conn) gnet.Action {
	if c != lc.gc {
		return gnet.Close
	}
	if len(lc.out) > 0 {
		// The server is answering: what waited for it goes now.
		lc.flushNow = true
		lc.lp.markDirty(lc)
	}
	if lc.inReply && lc.prog.Data > 0 && c.InboundBuffered() < lc.prog.N+lc.prog.Data {
		return gnet.None // the rest of a value is on its way
	}
	p := lc.lp.p
	buf, _ := c.Peek(-1)
	off := 0
	var now int64
	for off < len(buf) {
		if lc.n-lc.unsent == 0 {
			lc.endWhy = ReasonBadReply // bytes nobody asked for
			return gnet.Close
		}
		e := lc.q[lc.head]
		pr, err := e.op.Scan(buf[off:])
		if err != nil {
			lc.endWhy = ReasonBadReply
			return gnet.Close
		}
		if !pr.Done {
			lc.prog, lc.inReply = pr, true
			break
		}
		reply := buf[off : off+pr.N]
		lc.pop()
		lc.inReply = false
		if now == 0 {
			now = p.clock()
		}
		lc.lastUse, lc.lastReply = now, now
		if !e.probe {
			lc.lp.lat.Observe(now - e.enq)
		}
		if !e.op.Done(reply) {
			lc.endWhy = ReasonBadReply
			return gnet.Close
		}
		if e.probe && (lc.state == stateProbing || lc.state == stateConnecting) {
			lc.setReady()
		}
		off += pr.N
	}
	if off > 0 {
		_, _ = c.Discard(off)
	}
	return gnet.None
}

// OnClose implements eventloop.Conn: the session is over; what is queued
// fails and the dialer is told to dial again.
func (lc *lconn) OnClose(c gnet.Conn, err error) {
	if c != lc.gc {
		lc.sessionEnded(false) // refused in OnOpen
		return
	}
	why := lc.endWhy
	switch {
	case why != ReasonNone:
	case err != nil:
		why = readReason(err)
	default:
		why = ReasonClosedByPeer // the server is stopping its loops
	}
	wasUp := lc.wasUp
	lc.gc = nil
	lc.setDown(why)
	lc.failAll(lc.why) // ReasonPoolClosed once closed
	lc.sessionEnded(wasUp)
}

func (lc *lconn) sessionEnded(wasUp bool) {
	select {
	case lc.ended <- wasUp:
	default:
	}
}

// hurryDial has the dialer skip what is left of its backoff, once per
// session.
func (lc *lconn) hurryDial() {
	if lc.hurried {
		return
	}
	lc.hurried = true
	hurry(lc.hurry)
}

// dialFailed runs on the loop when a dial failed: the connection is down
// and what queued during it fails.
func (lc *lconn) dialFailed(why Reason) {
	lc.setDown(why)
	lc.failAll(lc.why)
}

// dialLoop is the connection's dialer goroutine: dial, hand the socket to
// the loop, wait for the session to end, back off, until the pipeline is
// closed or the loop stops.
func (lc *lconn) dialLoop() {
	p, l := lc.lp.p, lc.lp.loop
	defer p.wg.Done()
	var backoff time.Duration
	first := true
	for {
		if backoff > 0 && !lc.sleep(backoff) {
			return
		}
		select {
		case <-p.ctx.Done():
			return
		case <-l.Closing():
			return
		default:
		}
		nc, err := p.dial(p.ctx, lc.srv.addr)
		if err != nil {
			if p.ctx.Err() != nil {
				return
			}
			why := dialReason(err)
			lc.post(func() { lc.dialFailed(why) })
			backoff = p.nextBackoff(backoff)
			continue
		}
		if !first {
			p.reconnects.Add(1)
		}
		first = false
		// Enroll takes nc over (it keeps a duplicate of the socket) and
		// calls OnOpen on the loop.
		if _, err := l.EventLoop().Enroll(gnet.NewContext(context.Background(), lc), nc); err != nil {
			nc.Close()
			lc.post(func() { lc.dialFailed(ReasonDial) })
			backoff = p.nextBackoff(backoff)
			continue
		}
		select {
		case wasUp := <-lc.ended:
			if wasUp {
				// A healthy session broke: redial at once, the server
				// is probably fine (a restart, a lost connection).
				backoff = 0
			} else {
				backoff = p.nextBackoff(backoff)
			}
		case <-p.ctx.Done():
			return
		case <-l.Stopped():
			return
		}
	}
}

// post runs fn on the loop, then ends the loop's event.
func (lc *lconn) post(fn func()) {
	l := lc.lp.loop
	_ = l.EventLoop().Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
		fn()
		l.Flush()
		return nil
	}))
}

// sleep waits d give or take a quarter, or less when hurried; it reports
// false when the pipeline is closed or the loop is stopping.
func (lc *lconn) sleep(d time.Duration) bool {
	d += time.Duration(rand.Int64N(int64(d)/2+1)) - d/4
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-lc.lp.p.ctx.Done():
		return false
	case <-lc.lp.loop.Closing():
		return false
	case <-lc.hurry:
		return true
	case <-t.C:
		return true
	}
}
