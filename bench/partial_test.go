package bench

import (
	"bytes"
	"context"
	"os"
	"testing"

	"github.com/fae-sidecar/fae/internal/testproc"
)

// SendChunked stores its value and HoldPartial holds its sets unfinished,
// against a real memcached. Both read the CPU time and RSS of this test
// process (no pid of the memcached is at hand); only what they sent and
// got is checked.
func TestChunkedAndPartial(t *testing.T) {
	addr := testproc.StartMemcached(t)
	tg := Target{Name: "m", Addr: addr}
	cr, err := SendChunked(context.Background(), tg, os.Getpid(), 2, 5000, 128, 0)
	if err != nil {
		t.Fatal(err)
	}
	if cr.Sets != 2 || cr.CPU < 0 || cr.Wall <= 0 {
		t.Errorf("chunked: %+v", cr)
	}
	pr, err := HoldPartial(context.Background(), tg, os.Getpid(), 5, 5000, 1000, 0)
	if err != nil {
		t.Fatal(err)
	}
	part := len("set fae-bench:partial 0 0 5000\r\n") + 5001
	if pr.Opened != 5 || pr.Sent != int64(5*part) || pr.Refused != 0 || pr.Probes < 1 || pr.FirstError != "" {
		t.Errorf("partial: %+v", pr)
	}
}

func TestSetRequest(t *testing.T) {
	whole := setRequest("k", 3, 5)
	if string(whole) != "set k 0 0 3\r\nvvv\r\n" {
		t.Errorf("whole: %q", whole)
	}
	if got := setRequest("k", 3, 4); !bytes.Equal(got, whole[:len(whole)-1]) {
		t.Errorf("but the last byte: %q", got)
	}
}

func TestReadCPU(t *testing.T) {
	before, err := ReadCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	after, err := ReadCPU(os.Getpid())
	if err != nil || after < before {
		t.Errorf("CPU went from %v to %v (%v)", before, after, err)
	}
	if _, err := ReadCPU(-1); err == nil {
		t.Error("no error for pid -1")
	}
}
