// Package memcache is an upstream pool of real memcached servers: it forwards
// each request to the server that owns its key and hands memcached's own reply
// bytes back, unchanged.
//
// That is its one job. [Pool] implements upstream.Pool. Keys are spread over
// the servers by the configured [Distribution] (package placement); the
// requests travel on long-lived pipelined connections (package pipeline),
// as ops that the pool encodes and whose replies it frames
// (memcache.Frame). A request that arrives on one of the server's event
// loops (its waiter is an upstream.LoopWaiter) takes the loop transport:
// the loop has its own pipelined connection to each server, registered
// into it, and the whole round trip runs on the loop with no lock and no
// goroutine. Other requests take the goroutine transport: a few long-lived
// pipelined connections per server, shared, each with a writer and a
// reader goroutine. Either way replies are matched to requests in FIFO
// order and a key always takes the same connection, so a client's requests
// for one key keep their order. Multi-key reads are split per server
// connection and merged back in the client's key order; flush_all goes to
// every server. Dead or hung servers answer "SERVER_ERROR …" fast and are
// probed back to life in the background; with [Config].Breaker each server
// also has a circuit breaker (package breaker) that stops sending it
// requests while too many fail. Every queue is bounded by [Config].
package memcache
