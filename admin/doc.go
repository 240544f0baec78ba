// Package admin serves faed's admin HTTP API: health (/healthz), the
// running state as JSON (/stats, /pools, /ring), Prometheus metrics
// (/metrics), pprof (/debug/pprof/), the admin page (/), and the changes an
// operator makes (POST /pools/{name}/mode, /reload, /log/level), behind a
// bearer token. It reads the sidecar through a [Source] and changes it
// through a [Control], both of which the daemon implements; it knows no
// other part of faed. Everything it shows is read when asked for, from
// counters the request path keeps anyway.
package admin
