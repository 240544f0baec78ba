// Package memcache parses and encodes the memcached text protocol.
//
// Requests are parsed straight out of a connection's inbound buffer into a
// reused [Request] whose byte slices are views into that buffer: parsing does
// not allocate. Replies are encoded by Append* functions that append to a
// caller's buffer. A client that pipelines requests to a server (a pool)
// finds where each reply ends in the stream it reads with a [Frame], also
// without allocating. The package holds no state and starts no goroutines.
package memcache
