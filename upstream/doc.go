// Package upstream defines what the router asks of a pool: serve one parsed
// request, at once or later. Each kind of pool lives in a subpackage: local
// (the embedded store) and memcache (a pool of memcached servers).
package upstream
