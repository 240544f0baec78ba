// Package metascript holds the meta-command requests that differential
// tests play to a real memcached and to faed, and how their replies are
// compared. It is test support, shared by upstream/local's tests of the
// store and cmd/faed's tests of the built binary.
//
// [Script] is a fixed script, [Random] a random request, and [SameReply]
// tells whether two replies agree but for a second of drift in their
// seconds fields. Requests are written with "|" standing for "\r\n".
package metascript
