// Package memcache parses and encodes the memcached text protocol.
//
// Requests are parsed straight out of a connection's inbound buffer into a
// reused [Request] whose byte slices are views into that buffer: parsing does
// not allocate. Replies are encoded by Append* functions that append to a
// caller's buffer. The package holds no state and starts no goroutines.
package memcache
