// Package local is the embedded store that faed serves from when it runs
// standalone: an in-memory cache with the keyed-command semantics of
// memcached 1.6.18, behind the [upstream.Pool] interface.
//
// [New] returns a [Store] that answers get, gets, gat, gats, set, add,
// replace, append, prepend, cas, delete, incr, decr, touch and flush_all at
// once, byte for byte as memcached does, including its quirks (incr/decr
// padding in place, lazy expiry and flushing, flush_all delays, the CAS
// counter that flush_all advances). Memory is bounded by [Config.MaxBytes],
// counted per item as memcached does, and reclaimed in LRU order per shard.
// The store is sharded by key hash and safe for concurrent use; it starts no
// goroutines.
package local
