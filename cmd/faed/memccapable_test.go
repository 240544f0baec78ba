package main_test

// memccapable (libmemcached-tools) is libmemcached's protocol conformance
// checker. TestMemccapable runs its ASCII tests (-a) against a real
// memcached (the control), faed's embedded store and faed in front of a
// real memcached, and requires exit status 0 with every test passed.

import (
	"context"
	"net"
	"os/exec"
	"strings"
	"testing"

	"github.com/fae-sidecar/fae/internal/testproc"
)

func TestMemccapable(t *testing.T) {
	bin, err := exec.LookPath("memccapable")
	if err != nil {
		t.Fatalf("memccapable not found (%v): install it with `apt-get install libmemcached-tools` (or `make deps`)", err)
	}
	for _, tc := range []struct {
		name  string
		start func(t *testing.T) string
	}{
		{"memcached", func(t *testing.T) string { return testproc.StartMemcached(t) }},
		{"faed-embedded", func(t *testing.T) string { return testproc.StartFaed(t) }},
		{"faed-servers", func(t *testing.T) string {
			return testproc.StartFaed(t, "-servers", testproc.StartMemcached(t))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			host, port, err := net.SplitHostPort(tc.start(t))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), clientRun)
			defer cancel()
			// -a: ASCII protocol only; -t 10: io timeout in seconds, so a
			// server that does not answer fails a test instead of hanging.
			args := []string{"-a", "-t", "10", "-h", host, "-p", port}
			out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
			text := string(out)
			if err != nil || !strings.Contains(text, "All tests passed") || strings.Contains(text, "[FAIL]") {
				t.Fatalf("memccapable %s: %v\n%s", strings.Join(args, " "), err, text)
			}
		})
	}
}
