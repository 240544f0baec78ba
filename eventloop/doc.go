// Package eventloop is the contract between the server's gnet event loops
// and the pools that run work on them.
//
// That is its one job. The server implements [Loop] for each of its loops;
// a pool registers its own upstream connections into a loop, their gnet
// context a [Conn] whose events the server hands over, defers its writes to
// the end of the loop's event ([Loop.Defer], [Flusher]) and keeps its state
// per loop ([PerLoop]). It imports nothing of fae: waiters that are answered
// on a loop are upstream's (upstream.LoopWaiter).
package eventloop
