package pipeline

import "io"

// readLoop pairs each reply of the session with the oldest request sent and
// hands it over, until the connection fails. It returns why it stopped.
func (c *conn) readLoop() error {
	br := c.br
	for {
		// Wait for a reply before looking at the queue: the head may not
		// have been sent yet.
		if _, err := br.Peek(1); err != nil {
			return err
		}
		c.mu.Lock()
		e, ok := c.sentHeadLocked()
		c.mu.Unlock()
		if !ok {
			return errBadReply // bytes nobody asked for
		}
		reply, n, spilled, err := c.readReply(e.op)
		if err != nil {
			return err
		}
		c.mu.Lock()
		c.popLocked()
		now := c.p.clock()
		c.lastUse, c.lastReply = now, now
		c.mu.Unlock()
		if !e.probe {
			c.lat.Observe(now - e.enq)
		}
		ok = c.complete(e, reply)
		if !spilled {
			br.Discard(n)
		}
		if !ok {
			return errBadReply
		}
	}
}

// readReply reads o's whole reply. It is returned straight out of the bufio
// buffer when it fits (spilled false: the caller discards its n bytes after
// use), else assembled in c.spill. Either way it is valid until the next
// read.
func (c *conn) readReply(o Op) (reply []byte, n int, spilled bool, err error) {
	br := c.br
	for {
		b, _ := br.Peek(br.Buffered())
		pr, err := o.Scan(b)
		if err != nil {
			return nil, 0, false, errBadReply
		}
		if pr.Done {
			return b[:pr.N], pr.N, false, nil
		}
		if br.Buffered() == br.Size() {
			reply, err := c.readSpill(o, pr, b)
			return reply, len(reply), true, err
		}
		if _, err := br.Peek(br.Buffered() + 1); err != nil {
			return nil, 0, false, err
		}
	}
}

// readSpill continues a reply larger than the bufio buffer in c.spill. It
// reads exactly up to the end of the reply (whole lines, exact data
// lengths) so that the next reply stays in br.
func (c *conn) readSpill(o Op, pr Progress, b []byte) ([]byte, error) {
	br := c.br
	if cap(c.spill) > maxKeptBuf {
		c.spill = nil
	}
	sp := append(c.spill[:0], b...)
	br.Discard(len(b))
	for !pr.Done {
		if pr.Data > 0 {
			need := pr.N + pr.Data - len(sp)
			sp = grow(sp, need)
			if _, err := io.ReadFull(br, sp[len(sp)-need:]); err != nil {
				return nil, err
			}
		} else {
			line, err := br.ReadSlice('\n')
			if err != nil {
				if err == io.EOF {
					return nil, err
				}
				return nil, errBadReply // bufio.ErrBufferFull: no line
			}
			sp = append(sp, line...)
		}
		var err error
		if pr, err = o.Scan(sp); err != nil {
			return nil, errBadReply
		}
	}
	c.spill = sp
	return sp, nil
}

// grow extends b by n bytes.
func grow(b []byte, n int) []byte {
	if cap(b)-len(b) < n {
		nb := make([]byte, len(b), len(b)+n)
		copy(nb, b)
		b = nb
	}
	return b[:len(b)+n]
}

// complete hands a server's reply to e's op; a probe's answer makes the
// connection ready. It reports false when the reply proves the connection
// wrong.
func (c *conn) complete(e entry, reply []byte) bool {
	if !e.op.Done(reply) {
		return false
	}
	if e.probe {
		c.probeDone()
	}
	return true
}
