package pipeline

// Health: every session starts with a probe (Config.Probe) and is ready only
// once it is answered; idle ready connections are probed; the watchdog cuts a
// connection whose oldest request is late and makes its siblings prove
// themselves again.

// setReadyLocked makes the connection take requests.
func (c *conn) setReadyLocked() {
	if c.state != stateReady {
		c.srv.ready.Add(1)
	}
	c.state, c.why, c.wasUp = stateReady, ReasonNone, true
}

// pushProbeLocked queues a probe, if there is room.
func (c *conn) pushProbeLocked(now int64) {
	if c.n == len(c.q) {
		return
	}
	o := c.p.cfg.Probe()
	c.out = o.Encode(c.out)
	c.pushLocked(entry{op: o, enq: now, probe: true})
	c.lastUse = now
}

// probeDone handles the answer to a probe, which proved the server
// answers.
func (c *conn) probeDone() {
	c.mu.Lock()
	defer c.mu.Unlock()
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
		c.state, c.why = stateProbing, ReasonTimeout
	case stateReady:
		c.srv.ready.Add(-1)
		c.state, c.why = stateProbing, ReasonTimeout
		c.pushProbeLocked(now)
		c.signal()
	}
}

// check is the watchdog's visit: a connection whose oldest request is late
// and that has read no reply for a Timeout is cut (its replies can no longer
// be trusted to pair up); an idle ready one is probed.
func (c *conn) check(now int64) {
	c.mu.Lock()
	switch {
	case c.n > 0 && c.p.late(c.q[c.head], now) && now-c.lastReply > c.p.timeout:
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
			c.p.timeouts.Add(1)
			c.abort(ReasonTimeout)
			return
		}
		// Still dialling: nothing was sent, so the queue can just go.
		// Into a slice of its own: c.drained is the run goroutine's,
		// which drains into it when the dial fails, maybe while these
		// are being failed here.
		ops := c.drainLocked(nil)
		c.mu.Unlock()
		failAll(ops, ReasonTimeout)
		return
	case c.state == stateReady && c.n == 0 && now-c.lastUse > int64(c.p.cfg.HealthInterval):
		c.pushProbeLocked(now)
		c.mu.Unlock()
		c.signal()
		return
	}
	c.mu.Unlock()
}
