package upstream

import "github.com/fae-sidecar/fae/proto/memcache"

// Waiter receives the reply of a request that a pool finished later. Done is
// called exactly once, from any goroutine; reply is valid only during the
// call (the waiter copies it). A reply is the exact bytes to send to the
// client: for a request with NoReply set it is empty. A waiter whose
// request arrived on an event loop may also be answered on that loop
// (LoopWaiter.DoneOnLoop), instead of Done.
type Waiter interface {
	Done(reply []byte)
}

// Pool serves requests for the keys routed to it.
//
// Serve either answers at once, appending the reply to out and returning
// (out, false), or takes the request over and returns (out, true), calling
// w.Done later, from another goroutine, or w.DoneOnLoop later on the
// waiter's loop (never from within Serve's own call, where the caller may
// hold a lock). req and its slices are valid only during the call: a pool
// that answers later copies what it needs before returning. Serve must not
// block: it runs on an event loop. It is safe for concurrent use.
type Pool interface {
	Serve(req *memcache.Request, out []byte, w Waiter) ([]byte, bool)
	// Stats appends the pool's statistics as memcached "STAT name value"
	// pairs via add.
	Stats(add func(name string, value uint64))
	// Close releases the pool's connections and stops its goroutines.
	Close() error
}
