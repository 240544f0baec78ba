// Package admin serves faed's admin HTTP API: for now pprof under
// /debug/pprof/. Serve runs it until its context is done.
package admin
