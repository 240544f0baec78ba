package main_test

import (
	"testing"

	"github.com/fae-sidecar/fae/internal/testproc"
)

// target is a server a test plays to: start starts a fresh one for t and
// returns its address.
type target struct {
	name  string
	start func(t *testing.T) string
}

// serverTargets are the servers a protocol test plays to: a real memcached
// named control (the control that proves the test, so that a failure below
// it is faed's), faed with its embedded store, and faed in front of a real
// memcached (-servers).
func serverTargets(control string) []target {
	return []target{
		{control, func(t *testing.T) string { return testproc.StartMemcached(t) }},
		{"faed-embedded", func(t *testing.T) string { return testproc.StartFaed(t) }},
		{"faed-servers", func(t *testing.T) string {
			return testproc.StartFaed(t, "-servers", testproc.StartMemcached(t))
		}},
	}
}
