// Package daemon turns a validated configuration into a running faed: it
// builds the pools, the router, the servants and the server, starts the
// admin API, reloads the configuration on request, and shuts everything
// down in order. It is the one place where faed's parts are wired: start-up
// and reload build pools and routes through the same code (build.go).
//
// The server and the servants never hold a router: they hold the daemon's
// live handler, behind which a reload swaps the router (an atomic pointer,
// read once per request). Pools whose configuration did not change move to
// the new router as they are, with their connections, L1 and mode; the
// others are closed once the requests they hold are answered.
package daemon
