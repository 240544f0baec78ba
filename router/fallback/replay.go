package fallback

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/fae-sidecar/fae/router/spool"
)

// send is the replayers' spool.Send: it delivers an entry on the server's
// own replay connection (not the pool's: a spooled write goes to the
// server it was spooled for, never to a failover server, and waits for no
// client's request).
func (p *Pool) send(ctx context.Context, e spool.Entry) error {
	p.srvMu.Lock()
	s := p.senders[e.Server]
	if s == nil {
		s = &sender{addr: e.Server, timeout: p.cfg.Timeout}
		p.senders[e.Server] = s
	}
	p.srvMu.Unlock()
	return s.send(ctx, e.Request)
}

// sender is one server's replay connection; only the server's replayer
// uses it (and Close, once the replayers stopped).
type sender struct {
	addr    string
	timeout time.Duration
	c       net.Conn
	r       *bufio.Reader
}

// send writes one request and reads its one-line reply (entries are sets
// and deletes). A reply the server gave is nil; memcached's error lines
// count a try; no reply is spool.ErrUnavailable.
func (s *sender) send(ctx context.Context, req []byte) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if s.c == nil {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", s.addr)
		if err != nil {
			return fmt.Errorf("%w: %v", spool.ErrUnavailable, err)
		}
		s.c, s.r = c, bufio.NewReader(c)
	}
	deadline, _ := ctx.Deadline()
	_ = s.c.SetDeadline(deadline)
	line, err := s.roundTrip(req)
	if err != nil {
		s.close()
		return fmt.Errorf("%w: %s: %v", spool.ErrUnavailable, s.addr, err)
	}
	for _, ok := range []string{"STORED", "NOT_STORED", "DELETED", "NOT_FOUND", "EXISTS"} {
		if bytes.Equal(line, []byte(ok)) {
			return nil
		}
	}
	// An error line: the server did not apply it. Start afresh, in case it
	// discarded part of the request.
	s.close()
	return errors.New(string(line))
}

func (s *sender) roundTrip(req []byte) ([]byte, error) {
	if _, err := s.c.Write(req); err != nil {
		return nil, err
	}
	line, err := s.r.ReadSlice('\n')
	if err != nil {
		return nil, err
	}
	return bytes.TrimRight(line, "\r\n"), nil
}

func (s *sender) close() {
	if s.c != nil {
		_ = s.c.Close()
		s.c, s.r = nil, nil
	}
}
