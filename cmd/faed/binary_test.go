package main_test

// The binary protocol, played by internal/bindiff against a real memcached
// (the reference) and against faed, whose responses must be the same byte
// for byte, CAS values renumbered: with its embedded store, and in front
// of memcached (-servers), which it speaks to in meta commands.

import (
	"testing"

	"github.com/fae-sidecar/fae/internal/bindiff"
	"github.com/fae-sidecar/fae/internal/testproc"
)

func TestBinaryProtocol(t *testing.T) {
	script := bindiff.Script()
	for _, tc := range serverTargets("memcached-vs-memcached") {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ref := bindiff.Play(t, testproc.StartMemcached(t), script)
			bindiff.Compare(t, ref, bindiff.Play(t, tc.start(t), script))
		})
	}
}
