// Package daemon turns a validated configuration into a running faed: it
// builds the pools, the router and the server, starts the admin listener,
// and shuts them down in order. It is the one place where faed's parts are
// wired, so that start-up and (later) reload share it.
package daemon
