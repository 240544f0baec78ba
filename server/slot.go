package server

import (
	"sync/atomic"

	"github.com/fae-sidecar/fae/eventloop"
	"github.com/fae-sidecar/fae/upstream"
)

// slot holds the reply of one request that waited for an upstream, or of a
// later request queued behind it. The upstream writes buf and then sets
// done; the event loop reads buf only after seeing done. The event loop
// owns a slot from getSlot until it writes buf to the connection; it is
// then reused. A slot still pending when its connection closes is left to
// the garbage collector, since its upstream may still write it.
type slot struct {
	buf  []byte
	done atomic.Bool
	cn   *conn // set while the request waits for an upstream
}

var _ upstream.LoopWaiter = (*slot)(nil)

// Done implements upstream.Waiter: it keeps a copy of reply and wakes the
// connection's event loop to write it.
func (s *slot) Done(reply []byte) {
	// Read cn first: once done is set the loop may recycle the slot.
	c := s.cn.c
	s.buf = append(s.buf[:0], reply...)
	s.done.Store(true)
	_ = c.Wake(nil) // a closed connection ignores the wake-up
}

// Loop implements upstream.LoopWaiter.
func (s *slot) Loop() eventloop.Loop { return s.cn.loop }

// DoneOnLoop implements upstream.LoopWaiter: on the connection's own loop,
// the reply is kept and the connection served when the loop's event ends,
// without a wake-up.
func (s *slot) DoneOnLoop(reply []byte) {
	cn := s.cn
	s.buf = append(s.buf[:0], reply...)
	s.done.Store(true)
	cn.loop.markDirty(cn)
}

var _ upstream.Settler = (*slot)(nil)

// Settled implements upstream.Settler: nothing of the connection waits
// for a reply (the slot itself is queued only once Serve returns).
func (s *slot) Settled() bool { return len(s.cn.pending) == 0 }

// maxKeptSlotBuf bounds the buffer a reused slot keeps, so one big value
// does not pin memory on a connection forever.
const maxKeptSlotBuf = 64 << 10
