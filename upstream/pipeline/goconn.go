package pipeline

import (
	"bufio"
	"net"
	"sync"

	"github.com/fae-sidecar/fae/internal/hist"
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
	// stateProbing: a new session waits for the answer to its probe before
	// taking requests, so a server that accepts but never answers stays
	// down instead of swallowing a Timeout's worth of requests per redial.
	stateProbing
	// stateDown: between sessions after a failure; backing off.
	stateDown
	// stateClosed: the pipeline is closed.
	stateClosed
)

// maxKeptBuf is the largest buffer a connection keeps for reuse; a larger one
// (a big value went through) is dropped after use.
const maxKeptBuf = 1 << 20

// readBufSize is the reader's bufio size. Replies up to this size are handed
// to ops straight out of it; larger ones are assembled in conn.spill.
const readBufSize = 64 << 10

// conn is one long-lived pipelined connection of the goroutine transport to
// a server, shared by every caller. Its run goroutine dials, writes and
// redials; each session (one TCP connection) also has a reader goroutine.
// Requests are queued in FIFO order and the server answers each
// connection's requests in order, so the reader pairs the oldest request
// with the next reply. Any doubt about that pairing (an error, a
// late reply, bytes nobody asked for) ends the session and fails everything
// queued on it: a late reply is never given to the wrong request.
type conn struct {
	p     *Pipeline
	srv   *server
	wake  chan struct{} // cap 1: out has bytes for the writer
	hurry chan struct{} // cap 1: skip the backoff (Redial)

	mu      sync.Mutex
	state   connState
	why     Reason   // why the connection does not take requests
	nc      net.Conn // the current session; nil between sessions
	endWhy  Reason   // the first failure seen in the current session
	q       []entry  // ring of queued and in-flight ops; len(q) = MaxPending
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
	drained []entry

	// Owned by the current session's reader goroutine.
	br    *bufio.Reader
	spill []byte

	lat hist.H // round trips of the connection's requests (Latency)
}

func newConn(p *Pipeline, s *server) *conn {
	return &conn{
		p:     p,
		srv:   s,
		wake:  make(chan struct{}, 1),
		hurry: make(chan struct{}, 1),
		q:     make([]entry, p.cfg.MaxPending),
		br:    bufio.NewReaderSize(nil, readBufSize),
	}
}

// enqueue queues o on server s's i-th connection, or on another one when
// that one does not take requests. It returns why none took it.
func (s *server) enqueue(i int, o Op) Reason {
	why := s.conns[i].enqueue(o)
	for j := 1; why != ReasonNone && j < len(s.conns); j++ {
		if s.conns[(i+j)%len(s.conns)].enqueue(o) == ReasonNone {
			return ReasonNone
		}
	}
	return why
}

// enqueue encodes o into the connection's outgoing buffer and queues it for
// its reply. It never blocks on the network: the writer goroutine sends.
func (c *conn) enqueue(o Op) Reason {
	now := c.p.clock()
	c.mu.Lock()
	if c.state != stateReady && c.state != stateConnecting {
		why := c.why
		c.mu.Unlock()
		return why
	}
	if c.n == len(c.q) {
		c.mu.Unlock()
		return ReasonQueueFull
	}
	prev := len(c.out)
	c.out = o.Encode(c.out)
	if len(c.out) > c.p.cfg.MaxPendingSize && prev > 0 {
		c.out = c.out[:prev]
		c.mu.Unlock()
		return ReasonQueueFull
	}
	wake := c.pushLocked(entry{op: o, enq: now})
	c.lastUse = now
	c.mu.Unlock()
	if wake {
		c.signal()
	}
	return ReasonNone
}

// pushLocked appends e to the queue as unsent and reports whether the writer
// needs a wake-up (it has taken everything before).
func (c *conn) pushLocked(e entry) bool {
	c.q[(c.head+c.n)%len(c.q)] = e
	c.n++
	c.unsent++
	return c.unsent == 1
}

// sentHeadLocked returns the oldest entry if it was handed to the writer.
func (c *conn) sentHeadLocked() (entry, bool) {
	if c.n-c.unsent == 0 {
		return entry{}, false
	}
	return c.q[c.head], true
}

func (c *conn) popLocked() {
	c.q[c.head] = entry{}
	c.head = (c.head + 1) % len(c.q)
	c.n--
}

// drainLocked removes every queued entry, appending it to dst, and forgets
// their unsent bytes.
func (c *conn) drainLocked(dst []entry) []entry {
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

// drain empties a cap-1 signal channel without blocking.
func drain(ch chan struct{}) {
	select {
	case <-ch:
	default:
	}
}

// failAll answers every op of es with why and clears es.
func failAll(es []entry, why Reason) []entry {
	for _, e := range es {
		e.op.Fail(why)
	}
	clear(es)
	return es[:0]
}

// setDownLocked leaves stateReady/Probing/Connecting for stateDown (or keeps
// stateClosed) and records why.
func (c *conn) setDownLocked(why Reason) {
	if c.state == stateReady {
		c.srv.ready.Add(-1)
	}
	if c.state != stateClosed {
		c.state, c.why = stateDown, why
	}
}

// down is called between sessions (no reader runs): it marks the connection
// down and fails what was queued while connecting.
func (c *conn) down(why Reason) {
	c.mu.Lock()
	c.setDownLocked(why)
	why = c.why // ReasonPoolClosed once closed
	c.drained = c.drainLocked(c.drained)
	c.mu.Unlock()
	c.drained = failAll(c.drained, why)
}

// close is Pipeline.Close's part: refuse new requests and end the session; the
// run goroutine fails what is queued on its way out.
func (c *conn) close() {
	c.mu.Lock()
	if c.state == stateReady {
		c.srv.ready.Add(-1)
	}
	c.state, c.why = stateClosed, ReasonPoolClosed
	c.abortLocked(ReasonPoolClosed)
	c.mu.Unlock()
}

// abortLocked ends the current session, if any, for why. The connection
// refuses requests from now on (they would only be failed with the session);
// closing the socket unblocks the reader and the writer, and the run
// goroutine fails what is queued.
func (c *conn) abortLocked(why Reason) {
	if c.nc == nil {
		return
	}
	if c.endWhy == ReasonNone {
		c.endWhy = why
	}
	c.setDownLocked(c.endWhy)
	c.nc.Close()
}

func (c *conn) abort(why Reason) {
	c.mu.Lock()
	c.abortLocked(why)
	c.mu.Unlock()
}
