package main_test

// The binary protocol, played by internal/bindiff against a real memcached
// (the reference) and against faed, whose responses must be the same byte
// for byte, CAS values renumbered. In front of memcached (-servers) faed
// speaks the text protocol upstream, which cannot carry two things of the
// binary protocol: the CAS of a mutation's response (faed answers 0) and a
// CAS condition on delete, append, prepend, increment and decrement; the
// comparison leaves those out there (bindiff.Options).

import (
	"testing"

	"github.com/fae-sidecar/fae/internal/bindiff"
	"github.com/fae-sidecar/fae/internal/testproc"
)

func TestBinaryProtocol(t *testing.T) {
	script := bindiff.Script()
	for _, tc := range []struct {
		name  string
		opt   bindiff.Options
		start func(t *testing.T) string
	}{
		{"memcached-vs-memcached", bindiff.Options{}, func(t *testing.T) string { return testproc.StartMemcached(t) }},
		{"faed-embedded", bindiff.Options{}, func(t *testing.T) string { return testproc.StartFaed(t) }},
		{"faed-servers", bindiff.Options{MutationCasZero: true, NoCasCond: true}, func(t *testing.T) string {
			return testproc.StartFaed(t, "-servers", testproc.StartMemcached(t))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ref := bindiff.Play(t, testproc.StartMemcached(t), script, tc.opt)
			bindiff.Compare(t, ref, bindiff.Play(t, tc.start(t), script, tc.opt))
		})
	}
}
