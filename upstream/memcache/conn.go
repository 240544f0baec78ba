package memcache

import (
	"bufio"
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"time"

	"github.com/fae-sidecar/fae/proto/memcache"
)

// connState is where a connection is in its life. Requests are queued in
// stateConnecting and stateReady, and refused at once in the others.
type connState uint8

const (
	// stateConnecting: the first dial is in progress. Requests queue; they
	// are sent when it succeeds and failed when it does not.
	stateConnecting connState = iota
	// stateReady: a session is up and answering.
	stateReady
	// stateProbing: a new session waits for the answer to "version" before
	// taking requests, so a server that accepts but never answers stays
	// down instead of swallowing a Timeout's worth of requests per redial.
	stateProbing
	// stateDown: between sessions after a failure; backing off.
	stateDown
	// stateClosed: the pool is closed.
	stateClosed
)

// Backoff between failed connection attempts.
const (
	minBackoff = 20 * time.Millisecond
	maxBackoff = time.Second
)

// maxKeptBuf is the largest buffer a connection keeps for reuse; a larger one
// (a big value went through) is dropped after use.
const maxKeptBuf = 1 << 20

// readBufSize is the reader's bufio size. Replies up to this size are handed
// to waiters straight out of it; larger ones are assembled in conn.spill.
const readBufSize = 64 << 10

// conn is one long-lived pipelined connection to a server. Its run goroutine
// dials, writes and redials; each session (one TCP connection) also has a
// reader goroutine. Requests are queued in FIFO order and memcached answers
// each connection's requests in order, so the reader pairs the oldest
// request with the next reply. Any doubt about that pairing (an error, a
// late reply, bytes nobody asked for) ends the session and fails everything
// queued on it: a late reply is never given to the wrong request.
type conn struct {
	p    *Pool
	srv  *server
	wake chan struct{} // cap 1: out has bytes for the writer

	mu      sync.Mutex
	state   connState
	why     reason   // why the connection does not take requests
	nc      net.Conn // the current session; nil between sessions
	endWhy  reason   // the first failure seen in the current session
	q       []*op    // ring of queued and in-flight ops; len(q) = MaxPending
	head, n int
	unsent  int    // the last unsent ops of q have their bytes in out
	out     []byte // encoded requests not yet taken by the writer
	lastUse int64  // clock() of the last request or reply, for health pings
	wasUp   bool   // the current session reached stateReady

	// Owned by the run goroutine.
	wbuf    []byte
	drained []*op

	// Owned by the current session's reader goroutine.
	br      *bufio.Reader
	spill   []byte
	scratch []byte
}

func newConn(p *Pool, s *server) *conn {
	return &conn{
		p:    p,
		srv:  s,
		wake: make(chan struct{}, 1),
		q:    make([]*op, p.cfg.MaxPending),
		br:   bufio.NewReaderSize(nil, readBufSize),
	}
}

// enqueue queues server s's request r on its i-th connection, or on another
// one when that one does not take requests. It returns why none took it.
func (s *server) enqueue(i int, r *memcache.Request, o *op) reason {
	why := s.conns[i].enqueue(r, o)
	for j := 1; why != reasonNone && j < len(s.conns); j++ {
		if s.conns[(i+j)%len(s.conns)].enqueue(r, o) == reasonNone {
			return reasonNone
		}
	}
	return why
}

// enqueue encodes r into the connection's outgoing buffer and queues o for
// its reply. It never blocks on the network: the writer goroutine sends.
func (c *conn) enqueue(r *memcache.Request, o *op) reason {
	c.mu.Lock()
	if c.state != stateReady && c.state != stateConnecting {
		why := c.why
		c.mu.Unlock()
		return why
	}
	if c.n == len(c.q) {
		c.mu.Unlock()
		return reasonQueueFull
	}
	prev := len(c.out)
	c.out = memcache.AppendRequest(c.out, r)
	if len(c.out) > c.p.cfg.MaxPendingSize && prev > 0 {
		c.out = c.out[:prev]
		c.mu.Unlock()
		return reasonQueueFull
	}
	wake := c.pushLocked(o)
	c.lastUse = o.deadline - c.p.timeout
	c.mu.Unlock()
	if wake {
		c.signal()
	}
	return reasonNone
}

// pushLocked appends o to the queue as unsent and reports whether the writer
// needs a wake-up (it has taken everything before).
func (c *conn) pushLocked(o *op) bool {
	c.q[(c.head+c.n)%len(c.q)] = o
	c.n++
	c.unsent++
	return c.unsent == 1
}

// sentHeadLocked returns the oldest op if it was handed to the writer.
func (c *conn) sentHeadLocked() *op {
	if c.n-c.unsent == 0 {
		return nil
	}
	return c.q[c.head]
}

func (c *conn) popLocked() {
	c.q[c.head] = nil
	c.head = (c.head + 1) % len(c.q)
	c.n--
}

// drainLocked removes every queued op, appending it to dst, and forgets
// their unsent bytes.
func (c *conn) drainLocked(dst []*op) []*op {
	for c.n > 0 {
		dst = append(dst, c.q[c.head])
		c.popLocked()
	}
	c.unsent = 0
	c.out = c.out[:0]
	return dst
}

// signal wakes the writer without blocking.
func (c *conn) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// failAll answers every op in ops with why's line and clears ops.
func (c *conn) failAll(ops []*op, why reason) []*op {
	for _, o := range ops {
		c.p.fail(o, c.srv.lines[why])
	}
	clear(ops)
	return ops[:0]
}

// setDownLocked leaves stateReady/Probing/Connecting for stateDown (or keeps
// stateClosed) and records why.
func (c *conn) setDownLocked(why reason) {
	if c.state == stateReady {
		c.srv.ready.Add(-1)
	}
	if c.state != stateClosed {
		c.state, c.why = stateDown, why
	}
}

// down is called between sessions (no reader runs): it marks the connection
// down and fails what was queued while connecting.
func (c *conn) down(why reason) {
	c.mu.Lock()
	c.setDownLocked(why)
	why = c.why // reasonPoolClosed once closed
	c.drained = c.drainLocked(c.drained)
	c.mu.Unlock()
	c.drained = c.failAll(c.drained, why)
}

// close is Pool.Close's part: refuse new requests and end the session; the
// run goroutine fails what is queued on its way out.
func (c *conn) close() {
	c.mu.Lock()
	if c.state == stateReady {
		c.srv.ready.Add(-1)
	}
	c.state, c.why = stateClosed, reasonPoolClosed
	c.abortLocked(reasonPoolClosed)
	c.mu.Unlock()
}

// abortLocked ends the current session, if any, for why. The connection
// refuses requests from now on (they would only be failed with the session);
// closing the socket unblocks the reader and the writer, and the run
// goroutine fails what is queued.
func (c *conn) abortLocked(why reason) {
	if c.nc == nil {
		return
	}
	if c.endWhy == reasonNone {
		c.endWhy = why
	}
	c.setDownLocked(c.endWhy)
	c.nc.Close()
}

func (c *conn) abort(why reason) {
	c.mu.Lock()
	c.abortLocked(why)
	c.mu.Unlock()
}

// run owns the connection: dial, run a session, back off, redial, until the
// pool is closed. On the way out it fails whatever is still queued.
func (c *conn) run() {
	defer c.p.wg.Done()
	ctx := c.p.ctx
	var backoff time.Duration
	first := true
	for ctx.Err() == nil {
		if backoff > 0 && !sleep(ctx, backoff) {
			break
		}
		nc, err := c.dial(ctx)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			c.down(dialReason(err))
			backoff = nextBackoff(backoff)
			continue
		}
		if !first {
			c.p.st.reconnects.Add(1)
		}
		if c.session(nc) {
			// A healthy session broke: redial at once, the server is
			// probably fine (a restart, a lost connection).
			backoff = 0
		} else {
			backoff = nextBackoff(backoff)
		}
		first = false
	}
	c.down(reasonPoolClosed)
}

func (c *conn) dial(ctx context.Context) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, c.p.cfg.DialTimeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", c.srv.addr)
	if err != nil {
		return nil, err
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetNoDelay(true) // the writer batches already
	}
	return nc, nil
}

// session runs one TCP connection until it fails, then fails everything
// queued on it. It reports whether the session was ever ready.
func (c *conn) session(nc net.Conn) bool {
	c.mu.Lock()
	if c.state == stateClosed {
		c.mu.Unlock()
		nc.Close()
		return false
	}
	c.nc, c.endWhy, c.wasUp = nc, reasonNone, false
	// A server may accept connections and never answer: every session
	// starts with a probe, and only its answer makes the connection ready.
	// The first session keeps queueing requests meanwhile (they go out
	// behind the probe); later ones refuse them, the server being known to
	// have failed.
	if c.state != stateConnecting {
		c.state = stateProbing // c.why still says why it went down
	}
	c.pushProbeLocked(c.p.clock())
	c.mu.Unlock()
	c.signal()

	c.br.Reset(nc)
	done := make(chan struct{})
	c.p.wg.Add(1)
	go func() {
		defer c.p.wg.Done()
		c.abort(readReason(c.readLoop()))
		close(done)
	}()
	if err := c.writeLoop(nc, done); err != nil {
		c.abort(writeReason(err))
	}
	<-done

	c.mu.Lock()
	why := c.endWhy // set by the first abort: reader, writer, watchdog or Close
	wasUp := c.wasUp
	c.nc = nil
	nc.Close()
	c.setDownLocked(why)
	c.drained = c.drainLocked(c.drained)
	c.mu.Unlock()
	c.drained = c.failAll(c.drained, why)
	c.br.Reset(nil)
	return wasUp
}

func (c *conn) setReadyLocked() {
	if c.state != stateReady {
		c.srv.ready.Add(1)
	}
	c.state, c.why, c.wasUp = stateReady, reasonNone, true
}

// pushProbeLocked queues a "version" request, if there is room.
func (c *conn) pushProbeLocked(now int64) {
	if c.n == len(c.q) {
		return
	}
	o := c.p.getOp()
	o.probe, o.kind, o.deadline = true, kindLine, now+c.p.timeout
	c.out = append(c.out, "version\r\n"...)
	c.pushLocked(o)
	c.lastUse = now
}

// probeDone handles the reply to a probe: any VERSION line proves the server
// answers.
func (c *conn) probeDone(reply []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(reply) < 8 || string(reply[:8]) != "VERSION " {
		c.abortLocked(reasonBadReply)
		return
	}
	if c.state == stateProbing || c.state == stateConnecting {
		c.setReadyLocked()
	}
}

// suspect makes a ready connection prove itself again with a probe, refusing
// requests until it answers: a sibling connection to the same server has
// just timed out, and a hung server should cost one Timeout, not one per
// connection.
func (c *conn) suspect(now int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.nc == nil {
		return
	}
	switch c.state {
	case stateConnecting:
		// Its first probe is still out: stop queueing behind it.
		c.state, c.why = stateProbing, reasonTimeout
	case stateReady:
		c.srv.ready.Add(-1)
		c.state, c.why = stateProbing, reasonTimeout
		c.pushProbeLocked(now)
		c.signal()
	}
}

// writeLoop sends what Serve queued, everything queued since the last write
// in one write, until the session ends.
func (c *conn) writeLoop(nc net.Conn, done <-chan struct{}) error {
	for {
		select {
		case <-c.wake:
		case <-done:
			return nil
		}
		c.mu.Lock()
		buf := c.out
		c.out, c.unsent = c.wbuf[:0], 0
		c.mu.Unlock()
		if len(buf) > 0 {
			nc.SetWriteDeadline(time.Now().Add(c.p.cfg.Timeout))
			if _, err := nc.Write(buf); err != nil {
				return err
			}
		}
		if cap(buf) > maxKeptBuf {
			buf = nil
		}
		c.wbuf = buf[:0]
	}
}

// check is the watchdog's visit: a connection whose oldest request is late
// is cut (its replies can no longer be trusted to pair up); an idle ready
// one is pinged.
func (c *conn) check(now int64) {
	c.mu.Lock()
	switch {
	case c.n > 0 && c.q[c.head].deadline < now:
		if c.nc != nil {
			c.mu.Unlock()
			// Siblings first: once this connection's requests fail, a
			// client's next request to the server must not find a
			// sibling still taking requests.
			for _, sib := range c.srv.conns {
				if sib != c {
					sib.suspect(now)
				}
			}
			c.p.st.timeouts.Add(1)
			c.abort(reasonTimeout)
			return
		}
		// Still dialling: nothing was sent, so the queue can just go.
		c.drained = c.drainLocked(c.drained)
		c.mu.Unlock()
		c.drained = c.failAll(c.drained, reasonTimeout)
		return
	case c.state == stateReady && c.n == 0 && now-c.lastUse > int64(c.p.cfg.HealthInterval):
		c.pushProbeLocked(now)
		c.mu.Unlock()
		c.signal()
		return
	}
	c.mu.Unlock()
}

func writeReason(err error) reason {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return reasonTimeout
	}
	return reasonIO
}

func nextBackoff(d time.Duration) time.Duration {
	return min(max(2*d, minBackoff), maxBackoff)
}

// sleep waits d give or take a quarter (so connections do not redial in
// lockstep) or until ctx is done; it reports whether ctx is still alive.
func sleep(ctx context.Context, d time.Duration) bool {
	d += time.Duration(rand.Int64N(int64(d)/2+1)) - d/4
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
