package pipeline

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"os"
	"time"
)

// run owns the connection: dial, run a session, back off, redial, until the
// pipeline is closed. On the way out it fails whatever is still queued.
func (c *conn) run() {
	defer c.p.wg.Done()
	ctx := c.p.ctx
	var backoff time.Duration
	first := true
	for ctx.Err() == nil {
		if backoff > 0 && !sleep(ctx, backoff, c.hurry) {
			break
		}
		nc, err := c.dial(ctx)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			c.down(dialReason(err))
			backoff = c.p.nextBackoff(backoff)
			continue
		}
		if !first {
			c.p.reconnects.Add(1)
		}
		if c.session(nc) {
			// A healthy session broke: redial at once, the server is
			// probably fine (a restart, a lost connection).
			backoff = 0
		} else {
			backoff = c.p.nextBackoff(backoff)
		}
		first = false
	}
	c.down(ReasonPoolClosed)
}

// dial opens a connection to the server, within DialTimeout.
func (c *conn) dial(ctx context.Context) (net.Conn, error) { return c.p.dial(ctx, c.srv.addr) }

// dial opens a connection to addr with cfg.Dial, within DialTimeout.
func (p *Pipeline) dial(ctx context.Context, addr string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.DialTimeout)
	defer cancel()
	return p.cfg.Dial(ctx, addr)
}

// dialTCP is the default Config.Dial.
func dialTCP(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
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
	c.nc, c.endWhy, c.wasUp = nc, ReasonNone, false
	drain(c.hurry) // a Redial that came while dialling has been served
	// A server may accept connections and never answer: every session
	// starts with a probe, and only its answer makes the connection ready.
	// The first session keeps queueing requests meanwhile (they go out
	// with the probe); later ones refuse them, the server being known to
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
	c.drained = failAll(c.drained, why)
	c.br.Reset(nil)
	return wasUp
}

// writeLoop sends what Enqueue queued, everything queued since the last write
// in one write, until the session ends.
//
// Two buffers take turns: Enqueue encodes into c.out while the writer writes
// the other one, then the writer swaps them. The buffer being written is
// the writer's alone until Write returns, and it goes back to c.wbuf
// whatever Write returned: if a failed write kept it, c.wbuf would still
// name the buffer that c.out took at the swap, and the next session would
// write one buffer while Enqueue encodes into it.
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
		c.wbuf = nil // c.out has it now
		var err error
		if len(buf) > 0 {
			nc.SetWriteDeadline(time.Now().Add(c.p.cfg.Timeout))
			_, err = nc.Write(buf)
		}
		if cap(buf) <= maxKeptBuf {
			c.wbuf = buf[:0]
		}
		if err != nil {
			return err
		}
	}
}

func writeReason(err error) Reason {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return ReasonTimeout
	}
	return ReasonIO
}

// sleep waits d give or take a quarter (so connections do not redial in
// lockstep), or less when hurried (Redial), or until ctx is done; it
// reports whether ctx is still alive.
func sleep(ctx context.Context, d time.Duration, hurried <-chan struct{}) bool {
	d += time.Duration(rand.Int64N(int64(d)/2+1)) - d/4
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-hurried:
		return true
	case <-t.C:
		return true
	}
}
