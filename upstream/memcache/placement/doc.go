// Package placement maps a key to the server that owns it, for each way
// memcached clients spread keys over servers: fae's own ring and the
// continua of libmemcached (ketama, consistent) and twemproxy, so that a pool
// finds the keys those clients wrote.
//
// That is its one job. [New] builds a [Map] over a list of [Server]s for a
// [Distribution]; [Map.Pick] returns a key's server as an index into that
// list, without allocating; [Map.SkipPrefix] leaves a client's namespace
// out of the hash. It knows nothing of connections or of whether a server
// is up: failover is the pool's.
package placement
