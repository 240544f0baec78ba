package memcache

import "github.com/fae-sidecar/fae/proto/memcache"

// Health: every session starts with a "version" probe and is ready only once
// it is answered; idle ready connections are pinged; the watchdog cuts a
// connection whose oldest request is late and makes its siblings prove
// themselves again.

// setReadyLocked makes the connection take requests.
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
	o := c.p.getOp(path{})
	o.probe, o.kind, o.deadline = true, memcache.FrameLine, now+c.p.timeout
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

// check is the watchdog's visit: a connection whose oldest request is late
// and that has read no reply for a Timeout is cut (its replies can no longer be trusted to pair up); an idle ready
// one is pinged.
func (c *conn) check(now int64) {
	c.mu.Lock()
	switch {
	case c.n > 0 && c.q[c.head].deadline < now && now-c.lastReply > c.p.timeout:
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
			c.srv.suspects.Add(1) // and the loops' connections
			c.p.st.timeouts.Add(1)
			c.abort(reasonTimeout)
			return
		}
		// Still dialling: nothing was sent, so the queue can just go.
		// Into a slice of its own: c.drained is the run goroutine's,
		// which drains into it when the dial fails, maybe while these
		// are being failed here.
		ops := c.drainLocked(nil)
		c.mu.Unlock()
		c.failAll(ops, reasonTimeout)
		return
	case c.state == stateReady && c.n == 0 && now-c.lastUse > int64(c.p.cfg.HealthInterval):
		c.pushProbeLocked(now)
		c.mu.Unlock()
		c.signal()
		return
	}
	c.mu.Unlock()
}
