package spool

import (
	"context"
	"errors"
	"sync"
	"time"
)

// ErrUnavailable, wrapped in an error from a Send, says that the server was
// not reached (refused, timed out, its breaker open): the entry is tried
// again after a backoff without counting a try, so a long outage delays
// entries but never dead-letters them. Any other error means the server
// answered and did not apply the entry; that counts a try.
var ErrUnavailable = errors.New("spool: server unavailable")

// Send delivers one entry's request to its server and returns nil once the
// server answered it (any answer memcached gives to the request: STORED,
// NOT_STORED, DELETED, NOT_FOUND, a counter...).
type Send func(ctx context.Context, e Entry) error

// Defaults of ReplayConfig.
const (
	DefaultMinBackoff = 100 * time.Millisecond
	DefaultMaxBackoff = 30 * time.Second
)

// ReplayConfig is how the replayer delivers entries.
type ReplayConfig struct {
	Send Send
	// Backoff between failed tries doubles from MinBackoff up to
	// MaxBackoff, and starts again at MinBackoff after a delivery.
	MinBackoff, MaxBackoff time.Duration
	// Settled, if set, is called once an entry has left the queue: acked
	// (dead false) or moved to the dead letters (dead true). An entry
	// that a newer write of its key superseded while it was being sent is
	// reported acked too.
	Settled func(e Entry, dead bool)
	// Wait waits d or until ctx is done, returning ctx's error then; nil
	// means a timer. Tests inject it.
	Wait func(ctx context.Context, d time.Duration) error
}

func (c *ReplayConfig) fill() {
	if c.MinBackoff <= 0 {
		c.MinBackoff = DefaultMinBackoff
	}
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = max(DefaultMaxBackoff, c.MinBackoff)
	}
	if c.Wait == nil {
		c.Wait = wait
	}
}

func wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// ReplayAll runs Replay for each server, one goroutine each, and returns
// when ctx is done and all of them have stopped. servers are those of the
// configuration; servers that still have entries from an earlier run
// (Servers) are added, so nothing spooled is left behind.
func (s *Spool) ReplayAll(ctx context.Context, servers []string, cfg ReplayConfig) {
	all := map[string]bool{}
	for _, name := range append(servers, s.Servers()...) {
		all[name] = true
	}
	var wg sync.WaitGroup
	for name := range all {
		wg.Go(func() { s.Replay(ctx, name, cfg) })
	}
	wg.Wait()
}

// Replay delivers server's entries in order until ctx is done: the oldest
// entry is sent, and only once it is acknowledged (or dead-lettered) does
// the next one go, so a key's writes reach the server in append order. It
// waits for an Append when the queue is empty. Disk errors of the spool
// itself are logged and retried after a backoff.
func (s *Spool) Replay(ctx context.Context, server string, cfg ReplayConfig) {
	cfg.fill()
	wake := s.wake(server)
	backoff := time.Duration(0)
	pause := func() bool {
		backoff = min(max(2*backoff, cfg.MinBackoff), cfg.MaxBackoff)
		return cfg.Wait(ctx, backoff) == nil
	}
	for ctx.Err() == nil {
		e, ok, err := s.Next(server)
		if err != nil {
			s.log.Error("spool: reading the queue", "server", server, "error", err)
			if !pause() {
				return
			}
			continue
		}
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-wake:
			}
			continue
		}
		err = cfg.Send(ctx, e)
		switch {
		case ctx.Err() != nil:
			return
		case err == nil:
			if err := s.Ack(server, e.ID); err != nil {
				// Delivered but still queued: it will be sent again.
				s.log.Error("spool: ack", "server", server, "id", e.ID, "error", err)
				if !pause() {
					return
				}
				continue
			}
			backoff = 0
			if cfg.Settled != nil {
				cfg.Settled(e, false)
			}
		case errors.Is(err, ErrUnavailable):
			if !pause() {
				return
			}
		default:
			dead, ferr := s.Fail(server, e.ID, err)
			if ferr != nil {
				s.log.Error("spool: counting a failed try", "server", server, "id", e.ID, "error", ferr)
			}
			if dead {
				if cfg.Settled != nil {
					cfg.Settled(e, true)
				}
				continue // the next entry goes at once
			}
			if !pause() {
				return
			}
		}
	}
}
