// Package cluster is the pool of kind cluster: a key lives in the memory of
// the sidecars that own it on the replicated hash ring (peers/ring), this
// one's own store where it is an owner (served on the event loop, as a local
// pool), the other owners' over peer links (Links: per peer a memcache pool
// whose connections pass the peer handshake).
//
// Writes (storage, delete, incr/decr, touch, gat, gats, and every meta
// command but a read-only mg) reach every owner on the ring before the
// client's reply. Unconditional ones (set, delete, touch...) go to all at
// once, and the reply is the primary owner's answer, or the first owner's
// that answered. Conditional and relative ones (cas, add, replace,
// append, prepend, incr, decr, ms with C or a mode, md with C, ma) are
// decided by the first live owner in ring order; once it succeeded, the
// item it made is set at the owners after it (the request made
// unconditional, or the item read back), and its answer is the reply.
// Reads (get, gets) go to the owners in ring order, and on a miss or error
// to the next; a hit found past an owner that missed is set back there (an
// add of the value with its flags and remaining ttl), so a restarted, empty
// owner misses nothing another owner holds. Multi-key gets are split per
// primary owner (one get per peer), a key its primary misses then read
// alone as above, and merged in request order. A read-only mg goes to the
// first owner (this sidecar when it is one). lock and unlock take
// the lease at the key's primary owner. A request loads the ring once and
// finishes on it.
package cluster
