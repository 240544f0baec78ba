// Package fallback keeps a memcache pool's writes when their server fails
// (a pool's on_failure: memory): the write is applied to an embedded store
// of this sidecar (upstream/local) so that reads through it see it,
// appended to a durable spool (router/spool, fsynced) and only then
// answered as memcached would have; a replayer per server sends the spooled
// writes once the server answers again, and the local copy of a key is
// dropped once all its spooled writes were delivered.
//
// [Pool] wraps the memcache pool (any [Upstream]) and is an upstream.Pool
// itself. What it does per request:
//
//   - A key is pending while the spool holds writes of it, or a write of it
//     waits for a worker. Every request for a pending key (read or write)
//     goes to the key's worker, which serves it from the embedded store in
//     arrival order; a write that changed the item is spooled as the item's
//     new state (a set with an absolute exptime, or a delete), so that any
//     command (incr, append, cas...) of a pending key replays correctly.
//   - A write of a key that is not pending goes to the server. When it
//     fails there (the pool's own "SERVER_ERROR upstream …": refused, timed
//     out, down, breaker open), it is handed to the key's worker: an
//     unconditional set or delete (set, delete, ms without C, md without C
//     or I) is applied to the embedded store and spooled; any other write
//     (add, replace, append, prepend, cas, incr, decr, touch) depends on a
//     value only the server knows and is answered with the failure line.
//   - While a server's spool is not empty, unconditional sets and deletes
//     of its keys go to the workers at once, without trying the server, so
//     that they queue behind its spooled writes.
//   - A read of keys none of which is pending goes to the server as it is;
//     a multi-key read with pending keys is split, pending keys answered by
//     the workers, the others by the server, and merged in key order.
//
// The spool is written (and fsynced) by the key's worker goroutine, never
// on an event loop; the client is answered through its Waiter. When the
// spool cannot be written (disk full, data_dir read-only or missing) the
// embedded store is put back as it was and the client gets
// "SERVER_ERROR fallback spool unavailable": nothing is acknowledged that
// is not on disk. At start the spool's entries are loaded back into the
// embedded store before a request is served, so a restarted sidecar reads
// and orders what it acknowledged before.
package fallback
