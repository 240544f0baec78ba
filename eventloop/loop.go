package eventloop

import "github.com/panjf2000/gnet/v2"

// Pools on the server's loops. A request that arrives on one of the
// server's gnet event loops carries its Loop (upstream.LoopWaiter). A pool
// may then keep its own connections inside that loop (registered with
// EventLoop().Enroll, their gnet context a [Conn]) and run the whole round
// trip there: write the request on the loop, read the reply in the
// connection's OnTraffic on the same loop, and answer on the loop
// (upstream.LoopWaiter.DoneOnLoop), which costs no lock, no goroutine
// hand-off and no wake-up. The server writes the replies finished during an
// event once, when the event ends (Loop.Flush).
//
// A client connection lives on one loop for good, so all its requests take
// the same loop's connections: a pool that picks the connection by key
// keeps a client's requests for a key in order.

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
	// it runs the deferred flushers and writes the replies finished on the
	// loop (upstream.LoopWaiter.DoneOnLoop). The server calls it after
	// every event it handles.
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

// Conn is the gnet context of a connection a pool registered into one of
// the server's event loops. The server hands the connection's events to it
// instead of treating it as a client, and calls the loop's Flush after
// each.
type Conn interface {
	OnOpen(c gnet.Conn) gnet.Action
	OnTraffic(c gnet.Conn) gnet.Action
	OnClose(c gnet.Conn, err error)
}
