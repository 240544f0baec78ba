// Package mcbin parses and encodes memcached's binary protocol.
//
// Requests are parsed straight out of a connection's inbound buffer into a
// reused [Request] whose byte slices are views into that buffer: parsing does
// not allocate. [Parser.Parse] checks each request as memcached 1.6.18 does
// and says, with an [*Error], what memcached answers and whether it closes
// the connection. Responses are encoded by [AppendResponse] and
// [AppendError], which append to a caller's buffer; [AppendRequest] and
// [ParseResponse] are the client side, for tests and tools. The package
// holds no state and starts no goroutines.
package mcbin
