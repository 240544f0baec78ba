// Package pipeline carries requests to a set of servers over long-lived,
// pipelined connections, and hands each reply to its request.
//
// That is its one job; it knows no protocol. Its owner (a memcached pool,
// peer links) implements [Op] for its requests: encode the request, frame
// its reply as bytes arrive (a reply is lines and data blocks of announced
// length), take the reply or the [Reason] it failed. [Pipeline.Enqueue]
// queues an op on a connection the owner picks (by key, so that requests
// for one key keep their order); servers answer each connection's requests
// in order, and the pipeline pairs the oldest request with the next reply.
// Any doubt about that pairing cuts the connection and fails what it
// carried: a reply never reaches another request.
//
// Two transports: the goroutine transport (goconn*.go), a few connections
// per server shared by every caller, each with a writer and a reader
// goroutine; and the loop transport (loopconn*.go), where each of the
// server's event loops that asks for a [Lane] has its own connections,
// registered into the loop (package eventloop), and the whole round trip
// runs on the loop with no lock and no goroutine. Both probe every new
// session and idle connections ([Config].Probe), cut a connection whose
// oldest request is late, make its siblings prove themselves again, fail
// fast while a server is down and redial with backoff. Every queue is
// bounded by [Config]; one watchdog goroutine serves every connection.
package pipeline
