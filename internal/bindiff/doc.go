// Package bindiff plays scripts of memcached binary-protocol requests
// against a server and compares the responses with a reference's (a real
// memcached), byte for byte but for CAS values, which it renumbers in order
// of appearance. It is test support, shared by the server's in-process
// tests and cmd/faed's tests of the built binary.
//
// A [Step] is a batch of requests written at once, followed by a noop whose
// response marks the end of the step's responses (quiet requests answer
// nothing on success, so the responses cannot be counted). A server that
// closes the connection ends the step with "EOF", and the next step
// reconnects.
package bindiff
