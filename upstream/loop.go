package upstream

import (
	"sync"
	"sync/atomic"

	"github.com/panjf2000/gnet/v2"
)

// Loop-local upstreams. A request that arrives on one of the server's gnet
// event loops carries a [LoopWaiter]. A pool may then keep its own
// connections inside that loop (registered with EventLoop().Enroll, their
// gnet context a [LoopConn]) and run the whole round trip there: write the
// request on the loop, read the reply in the upstream connection's
// OnTraffic on the same loop, and answer with DoneOnLoop, which costs no
// lock, no goroutine hand-off and no wake-up. The server writes the replies
// finished during an event once, when the event ends (Loop.Flush).
//
// A client connection lives on one loop for good, so all its requests take
// the same loop's connections: a pool that picks the connection by key
// keeps a client's requests for a key in order. That only holds if every
// request of a connection takes the same path, so a Waiter that wraps
// another one must implement LoopWaiter too, with the wrapped waiter's Loop,
// and answer with Complete.

// Loop is one event loop of the server, as a pool that keeps connections on
// it sees it. Index, EventLoop, Closing and Stopped may be called from any
// goroutine; Defer and Flush only on the loop.
type Loop interface {
	// Index numbers the server's loops 0, 1, … in the order they took
	// their first connection.
	Index() int
	// EventLoop registers connections into the loop and runs work on it.
	EventLoop() gnet.EventLoop
	// Defer has f.Flush called on the loop when the event being handled
	// ends, before the replies finished during it are written. A pool
	// defers its writes this way, to send every request of the event in
	// one write.
	Defer(f Flusher)
	// Flush ends work a pool ran on the loop by itself (EventLoop.Execute):
	// it runs the deferred flushers and writes the replies finished with
	// DoneOnLoop. The server calls it after every event it handles.
	Flush()
	// Closing is closed when the server starts stopping its loops: from
	// then on the loop may close any connection, and a pool must not
	// register new ones.
	Closing() <-chan struct{}
	// Stopped is closed once the loops have stopped for good: no event runs
	// on them any more, so what a pool kept for the loop is the pool's
	// alone.
	Stopped() <-chan struct{}
}

// Flusher is work deferred to the end of a loop's event (Loop.Defer).
type Flusher interface {
	Flush()
}

// LoopWaiter is a Waiter whose request arrived on an event loop.
type LoopWaiter interface {
	Waiter
	// Loop is the loop the request arrived on, or nil when it did not.
	Loop() Loop
	// DoneOnLoop is Done called on Loop()'s goroutine: the reply is kept
	// and written when the loop's current event ends. Same contract as
	// Done otherwise: exactly once, never from within Serve.
	DoneOnLoop(reply []byte)
}

// Settler is a Waiter that knows whether its client has requests in
// flight. Settled reports whether every earlier request of the waiter's
// client has been answered, so that nothing of it is in flight that this
// request could overtake on another path (another loop's connection). It is
// valid within Serve only. A waiter that is not a Settler counts as not
// settled.
type Settler interface {
	Settled() bool
}

// Settled reports whether w is a Settler that is settled.
func Settled(w Waiter) bool {
	s, ok := w.(Settler)
	return ok && s.Settled()
}

// LoopOf returns the loop w's request arrived on, or nil.
func LoopOf(w Waiter) Loop {
	if lw, ok := w.(LoopWaiter); ok {
		return lw.Loop()
	}
	return nil
}

// Complete hands reply to w from loop l's goroutine: with DoneOnLoop when
// w's request is on l, else with Done (which wakes the other loop).
func Complete(w Waiter, l Loop, reply []byte) {
	if lw, ok := w.(LoopWaiter); ok && l != nil && lw.Loop() == l {
		lw.DoneOnLoop(reply)
		return
	}
	w.Done(reply)
}

// LoopConn is the gnet context of a connection a pool registered into one
// of the server's event loops. The server hands the connection's events to
// it instead of treating it as a client, and calls the loop's Flush after
// each.
type LoopConn interface {
	OnOpen(c gnet.Conn) gnet.Action
	OnTraffic(c gnet.Conn) gnet.Action
	OnClose(c gnet.Conn, err error)
}

// PerLoop keeps one *T per event loop, made by New on the first Get for the
// loop. Get takes no lock once the loop has its value. The zero value with
// New set is ready to use.
type PerLoop[T any] struct {
	New func(Loop) *T

	mu     sync.Mutex
	byIdx  atomic.Pointer[[]perLoopEntry[T]]
	others map[Loop]*T // loops whose Index another loop took (two servers)
}

type perLoopEntry[T any] struct {
	l Loop
	v *T
}

// Get returns l's value, making it first if needed.
func (p *PerLoop[T]) Get(l Loop) *T {
	i := l.Index()
	if s := p.byIdx.Load(); s != nil && i >= 0 && i < len(*s) && (*s)[i].l == l {
		return (*s)[i].v
	}
	return p.slow(l, i)
}

func (p *PerLoop[T]) slow(l Loop, i int) *T {
	p.mu.Lock()
	defer p.mu.Unlock()
	var cur []perLoopEntry[T]
	if s := p.byIdx.Load(); s != nil {
		cur = *s
	}
	if i >= 0 && i < len(cur) && cur[i].l == l {
		return cur[i].v
	}
	if v, ok := p.others[l]; ok {
		return v
	}
	v := p.New(l)
	if i >= 0 && (i >= len(cur) || cur[i].l == nil) {
		next := make([]perLoopEntry[T], max(len(cur), i+1))
		copy(next, cur)
		next[i] = perLoopEntry[T]{l: l, v: v}
		p.byIdx.Store(&next)
		return v
	}
	if p.others == nil {
		p.others = map[Loop]*T{}
	}
	p.others[l] = v
	return v
}

// All calls f with every value made so far.
func (p *PerLoop[T]) All(f func(Loop, *T)) {
	p.mu.Lock()
	var es []perLoopEntry[T]
	if s := p.byIdx.Load(); s != nil {
		es = append(es, *s...)
	}
	for l, v := range p.others {
		es = append(es, perLoopEntry[T]{l: l, v: v})
	}
	p.mu.Unlock()
	for _, e := range es {
		if e.v != nil {
			f(e.l, e.v)
		}
	}
}
