// Package ring places keys on peers: a weighted, replicated consistent-hash
// ring (serialx/hashring's MD5 points) that names the N distinct owners of a
// key without allocating, and a [Table] that rebuilds it on every membership
// change and swaps it atomically, so a lookup finishes on the ring it
// started on.
//
// A [Ring] is immutable and safe for concurrent use. It imports nothing of
// fae's.
package ring
