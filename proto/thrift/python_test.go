package thrift

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/fae-sidecar/fae/proto/thrift/fae"
)

// pythonBin is Debian's python3, whose dist-packages hold python3-thrift.
const pythonBin = "/usr/bin/python3"

// TestPythonClient runs client/python/test_client.py, the generated Python
// client over python3-thrift's framed transport, against a server running
// Process: every method, one line per call.
func TestPythonClient(t *testing.T) {
	if out, err := exec.Command(pythonBin, "-c", "import thrift").CombinedOutput(); err != nil {
		t.Fatalf("%s cannot import thrift: %v\n%s\ninstall it with `apt-get install python3-thrift` (or `make deps`)", pythonBin, err, out)
	}
	lines, err := runPythonClient(t, startServer(t, newTestHandler()))
	if err != nil {
		t.Fatalf("test_client.py: %v", err)
	}
	const calls = 31
	for _, l := range lines {
		if !strings.HasPrefix(l, "ok ") {
			t.Fatalf("not ok: %q", l)
		}
	}
	if len(lines) != calls {
		t.Fatalf("%d lines, want one per call: %d", len(lines), calls)
	}
}

// TestPythonClientFails checks that test_client.py sees a wrong answer and
// an unexpected exception, says FAIL, goes on with the next group and exits
// 1.
func TestPythonClientFails(t *testing.T) {
	lines, err := runPythonClient(t, startServer(t, wrongHandler{newTestHandler()}))
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("test_client.py: %v, want exit status 1", err)
	}
	var fails []string
	for _, l := range lines {
		if strings.HasPrefix(l, "FAIL") {
			fails = append(fails, l)
		}
	}
	want := []string{
		"FAIL noop(-42) -> -41",
		"FAIL kvdb_get(b'fae_test_", // before (want TCacheMissed) -> TApplicationException(type=6, ...)
		"FAIL kvdb group: TApplicationException -> TApplicationException(type=6, 'Internal error processing kvdb_get: disk on fire')",
	}
	if len(fails) != len(want) {
		t.Fatalf("failures %q, want %q", fails, want)
	}
	for i := range want {
		if !strings.HasPrefix(fails[i], want[i]) {
			t.Fatalf("failure %q, want %q", fails[i], want[i])
		}
	}
	if last := lines[len(lines)-2]; !strings.HasPrefix(last, "ok   no_such_method()") {
		t.Fatalf("the groups after the failures did not run: %q", last)
	}
}

// wrongHandler answers noop wrongly and fails kvdb_get.
type wrongHandler struct{ *testHandler }

func (wrongHandler) Noop(_ context.Context, x int32) (int32, error) { return x + 1, nil }

func (wrongHandler) KvdbGet(context.Context, *fae.Context, []byte) ([]byte, error) {
	return nil, errors.New("disk on fire")
}

// runPythonClient runs test_client.py against addr and returns its lines.
func runPythonClient(t *testing.T, addr string) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// -B: no __pycache__ in the source tree.
	out, err := exec.CommandContext(ctx, pythonBin, "-B", "../../client/python/test_client.py", addr).CombinedOutput()
	t.Logf("test_client.py %s:\n%s", addr, out)
	return strings.Split(strings.TrimSpace(string(out)), "\n"), err
}
