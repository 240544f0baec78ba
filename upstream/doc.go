// Package upstream defines what the router asks of a pool: serve one parsed
// request, at once or later. Each kind of pool lives in a subpackage: local
// (the embedded store), memcache (a pool of memcached servers) and mongo;
// pipeline carries a pool's requests to its servers over long-lived
// pipelined connections.
package upstream
