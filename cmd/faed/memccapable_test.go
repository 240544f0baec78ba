package main_test

// memccapable (libmemcached-tools) is libmemcached's protocol conformance
// checker. TestMemccapable runs its ASCII tests (-a) and its binary tests
// (-b) against a real memcached (the control), faed's embedded store and
// faed in front of a real memcached, and requires exit status 0 with every
// test passed.
//
// In front of memcached, faed passes the binary tests listed in
// proxyBinaryTests only. Every other binary test checks that the response
// to a successful set, add, replace, append, prepend, increment or
// decrement carries the item's new CAS (memcapable.cc:
// verify(rsp...response.cas)), directly or through its binary_set_item
// helper (flush, delete, the gets). faed talks to memcached in the text
// protocol, whose replies to those commands carry no CAS, so it answers
// CAS 0 (see server/binary_text.go); PHP's memcached extension and
// libmemcached ignore that CAS.

import (
	"context"
	"net"
	"os/exec"
	"strings"
	"testing"

	"github.com/fae-sidecar/fae/internal/testproc"
)

// proxyBinaryTests are the binary tests that need no CAS in a mutation's
// response.
var proxyBinaryTests = []string{
	"binary noop", "binary quit", "binary quitq", "binary addq", "binary incrq",
	"binary decrq", "binary version", "binary stat",
}

func TestMemccapable(t *testing.T) {
	bin, err := exec.LookPath("memccapable")
	if err != nil {
		t.Fatalf("memccapable not found (%v): install it with `apt-get install libmemcached-tools` (or `make deps`)", err)
	}
	all := [][]string{{"-a"}, {"-b"}}
	proxied := [][]string{{"-a"}}
	for _, name := range proxyBinaryTests {
		proxied = append(proxied, []string{"-b", "-T", name})
	}
	for _, tc := range []struct {
		name  string
		start func(t *testing.T) string
		runs  [][]string // memccapable arguments of each run
	}{
		{"memcached", func(t *testing.T) string { return testproc.StartMemcached(t) }, all},
		{"faed-embedded", func(t *testing.T) string { return testproc.StartFaed(t) }, all},
		{"faed-servers", func(t *testing.T) string {
			return testproc.StartFaed(t, "-servers", testproc.StartMemcached(t))
		}, proxied},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			host, port, err := net.SplitHostPort(tc.start(t))
			if err != nil {
				t.Fatal(err)
			}
			for _, run := range tc.runs {
				ctx, cancel := context.WithTimeout(context.Background(), clientRun)
				// -a: ASCII tests, -b: binary tests, -T: one test; -t 10: io
				// timeout in seconds, so a server that does not answer fails a
				// test instead of hanging.
				args := append(append([]string{}, run...), "-t", "10", "-h", host, "-p", port)
				out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
				cancel()
				text := string(out)
				// "All tests passed" also ends a run of no test at all (-T
				// with a name that matches none): require a pass.
				if err != nil || !strings.Contains(text, "All tests passed") || strings.Contains(text, "[FAIL]") ||
					!strings.Contains(text, "[pass]") {
					t.Errorf("memccapable %s: %v\n%s", strings.Join(args, " "), err, text)
				}
			}
		})
	}
}
