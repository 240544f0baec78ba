package main_test

// memccapable (libmemcached-tools) is libmemcached's protocol conformance
// checker. TestMemccapable runs its ASCII tests (-a) and its binary tests
// (-b) against a real memcached (the control), faed's embedded store and
// faed in front of a real memcached, and requires exit status 0 with every
// test passed. Most binary tests check that a mutation's response carries
// the item's new CAS (memcapable.cc: verify(rsp...response.cas)): in front
// of memcached, faed learns it from the meta commands it sends (see
// proto/mcbin/totext).

import (
	"context"
	"net"
	"os/exec"
	"strings"
	"testing"
)

func TestMemccapable(t *testing.T) {
	bin, err := exec.LookPath("memccapable")
	if err != nil {
		t.Fatalf("memccapable not found (%v): install it with `apt-get install libmemcached-tools` (or `make deps`)", err)
	}
	for _, tc := range serverTargets("memcached") {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			host, port, err := net.SplitHostPort(tc.start(t))
			if err != nil {
				t.Fatal(err)
			}
			for _, mode := range []string{"-a", "-b"} {
				ctx, cancel := context.WithTimeout(context.Background(), clientRun)
				// -a: ASCII tests, -b: binary tests; -t 10: io timeout in
				// seconds, so a server that does not answer fails a test
				// instead of hanging.
				args := []string{mode, "-t", "10", "-h", host, "-p", port}
				out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
				cancel()
				text := string(out)
				// "All tests passed" also ends a run of no test at all:
				// require a pass.
				if err != nil || !strings.Contains(text, "All tests passed") || strings.Contains(text, "[FAIL]") ||
					!strings.Contains(text, "[pass]") {
					t.Errorf("memccapable %s: %v\n%s", strings.Join(args, " "), err, text)
				}
			}
		})
	}
}
