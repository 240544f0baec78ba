package upstream

import "github.com/fae-sidecar/fae/eventloop"

// Waiters of requests that arrived on an event loop (package eventloop): a
// pool that keeps connections on the request's loop answers it there, with
// DoneOnLoop. A client connection lives on one loop for good, so a pool
// that picks the connection by key keeps a client's requests for a key in
// order. That only holds if every request of a connection takes the same
// path, so a Waiter that wraps another one must implement LoopWaiter too,
// with the wrapped waiter's Loop, and answer with Complete.

// LoopWaiter is a Waiter whose request arrived on an event loop.
type LoopWaiter interface {
	Waiter
	// Loop is the loop the request arrived on, or nil when it did not.
	Loop() eventloop.Loop
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
func LoopOf(w Waiter) eventloop.Loop {
	if lw, ok := w.(LoopWaiter); ok {
		return lw.Loop()
	}
	return nil
}

// Complete hands reply to w from loop l's goroutine: with DoneOnLoop when
// w's request is on l, else with Done (which wakes the other loop).
func Complete(w Waiter, l eventloop.Loop, reply []byte) {
	if lw, ok := w.(LoopWaiter); ok && l != nil && lw.Loop() == l {
		lw.DoneOnLoop(reply)
		return
	}
	w.Done(reply)
}
