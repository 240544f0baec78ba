package memcache

import (
	"bufio"
	"net"
	"sync"

	"github.com/fae-sidecar/fae/internal/hist"
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
	// lastReply is the clock() of the last reply read: a connection that
	// keeps answering is busy (e.g. big values queued by a client that
	// left), not hung, even when its oldest request is past its deadline.
	lastReply int64
	wasUp     bool // the current session reached stateReady

	// Owned by the run goroutine.
	wbuf    []byte
	drained []*op

	// Owned by the current session's reader goroutine.
	br    *bufio.Reader
	spill []byte

	lat hist.H // round trips of the connection's requests (inspect.go)
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
