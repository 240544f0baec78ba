package server

import (
	"context"

	"github.com/panjf2000/gnet/v2"
)

// Stats reports the server's own counters by memcached's names:
// curr_connections, total_connections, rejected_connections, bytes_read,
// bytes_written, and inflight (requests of all connections waiting for an
// upstream). It reads atomics the connections bump anyway: it costs the
// request path nothing. Safe for concurrent use.
func (s *Server) Stats(add func(name string, value uint64)) {
	add("curr_connections", uint64(max(s.stats.currConns.Load(), 0)))
	add("total_connections", s.stats.totalConns.Load())
	add("rejected_connections", s.stats.rejectedConns.Load())
	add("bytes_read", s.stats.bytesRead.Load())
	add("bytes_written", s.stats.bytesWritten.Load())
	add("inflight", uint64(max(s.inflight.Load(), 0)))
}

// Barrier returns once every event loop has finished the event it was
// handling when Barrier was called, so that no request parsed before the
// call is still being handed to a Handler: after swapping what its Handler
// serves with, a caller knows the old one gets no more calls from the
// loops. It returns early when ctx is done or the server stops.
func (s *Server) Barrier(ctx context.Context) error {
	ls := s.loops.Load()
	if ls == nil {
		return nil
	}
	done := make(chan struct{}, len(*ls))
	n := 0
	for _, l := range *ls {
		err := l.el.Execute(ctx, gnet.RunnableFunc(func(context.Context) error {
			done <- struct{}{}
			return nil
		}))
		if err == nil {
			n++
		}
	}
	for range n {
		select {
		case <-done:
		case <-s.stopped:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Booted is closed once the server listens.
func (s *Server) Booted() <-chan struct{} { return s.booted }

// Serving reports whether the server accepts and serves clients: it has
// booted and is not draining.
func (s *Server) Serving() bool {
	select {
	case <-s.booted:
		return !s.draining.Load()
	default:
		return false
	}
}
