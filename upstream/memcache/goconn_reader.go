package memcache

import (
	"io"

	"github.com/fae-sidecar/fae/proto/memcache"
)

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
		o := c.sentHeadLocked()
		c.mu.Unlock()
		if o == nil {
			return memcache.ErrBadReply // bytes nobody asked for
		}
		f := memcache.Frame{Kind: o.kind}
		reply, spilled, err := c.readReply(&f)
		if err != nil {
			return err
		}
		c.mu.Lock()
		c.popLocked()
		now := c.p.clock()
		c.lastUse, c.lastReply = now, now
		c.mu.Unlock()
		if !o.probe {
			c.lat.Observe(now - (o.deadline - c.p.timeout))
		}
		c.complete(o, reply, &f)
		if !spilled {
			br.Discard(f.N)
		}
	}
}

// readReply reads one whole reply. It is returned straight out of the bufio
// buffer when it fits (spilled false: the caller discards f.N bytes after
// use), else assembled in c.spill. Either way it is valid until the next
// read.
func (c *conn) readReply(f *memcache.Frame) (reply []byte, spilled bool, err error) {
	br := c.br
	for {
		b, _ := br.Peek(br.Buffered())
		if err := f.Scan(b); err != nil {
			return nil, false, err
		}
		if f.Done {
			return b[:f.N], false, nil
		}
		if br.Buffered() == br.Size() {
			return c.readSpill(f, b)
		}
		if _, err := br.Peek(br.Buffered() + 1); err != nil {
			return nil, false, err
		}
	}
}

// readSpill continues a reply larger than the bufio buffer in c.spill. It
// reads exactly up to the end of the reply (whole lines, exact data
// lengths) so that the next reply stays in br.
func (c *conn) readSpill(f *memcache.Frame, b []byte) ([]byte, bool, error) {
	br := c.br
	if cap(c.spill) > maxKeptBuf {
		c.spill = nil
	}
	sp := append(c.spill[:0], b...)
	br.Discard(len(b))
	for !f.Done {
		if f.Data > 0 {
			need := f.N + f.Data - len(sp)
			sp = grow(sp, need)
			if _, err := io.ReadFull(br, sp[len(sp)-need:]); err != nil {
				return nil, false, err
			}
		} else {
			line, err := br.ReadSlice('\n')
			if err != nil {
				if err == io.EOF {
					return nil, false, err
				}
				return nil, false, memcache.ErrBadReply // bufio.ErrBufferFull: no line
			}
			sp = append(sp, line...)
		}
		if err := f.Scan(sp); err != nil {
			return nil, false, err
		}
	}
	c.spill = sp
	return sp, true, nil
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

// complete hands a server's reply to whoever waits for o, then recycles o.
func (c *conn) complete(o *op, reply []byte, f *memcache.Frame) {
	if o.probe {
		c.probeDone(reply)
		c.p.putOp(o)
		return
	}
	c.p.answer(o, reply, f)
}

// answer hands a server's reply to a client's request o (not a probe),
// then recycles o.
func (p *Pool) answer(o *op, reply []byte, f *memcache.Frame) {
	if f.Kind == memcache.FrameMetaFenced {
		reply, o.quiet = memcache.Unfence(reply), false
	}
	p.st.countReply(o, reply, f)
	switch {
	case o.g != nil:
		o.g.partDone(o.sub, reply, o.kind == memcache.FrameLine || f.End)
	case o.noReply, o.quiet && memcache.MetaQuietDropCode(o.cmd, reply):
		o.done(nil)
	default:
		o.done(reply)
	}
	p.putOp(o)
}
