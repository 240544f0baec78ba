// Package server accepts client connections on gnet event loops, parses
// memcached text-protocol requests straight out of each connection's inbound
// buffer, hands them to a [Handler] and writes the replies back in request
// order, also when some requests are answered later by an upstream. A
// connection whose first byte is 0x80 speaks the binary protocol instead;
// its requests reach the Handler translated to text-protocol requests, meta
// commands for its mutations (proto/mcbin/totext).
//
// Ordering: each connection keeps a FIFO of reply slots. While no request of
// the connection is waiting for an upstream, replies are appended to one
// outbound buffer and written once per read. Once a request goes upstream it
// takes a slot, and every later reply of that connection queues behind it in
// its own slot; when an upstream finishes it fills its slot and wakes the
// connection's event loop, which writes the finished slots at the head of
// the FIFO. Only the event loop writes to a connection.
//
// Loop-local upstreams (upstreamconn.go, eventloop.Loop): a pool may register
// its own connections into the event loops; their events go to the pool,
// which answers on the client's own loop without a wake-up (DoneOnLoop).
// The loop then serves each client with finished replies once, when the
// event ends.
//
// Backpressure: a connection with MaxInflight slots waiting, or with more
// than MaxOutbound bytes of unsent replies, is not parsed further until
// replies leave; its unparsed bytes wait in gnet's inbound buffer, which is
// bounded by MaxInbound (a client that sends more is closed). A large
// request that arrives in pieces is moved out of gnet's buffer into one of
// its own size until it is whole; those buffers together are bounded by
// MaxPartial (partial.go).
package server
