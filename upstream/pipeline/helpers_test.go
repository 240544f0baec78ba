package pipeline

import (
	"bytes"
	"strconv"
	"testing"
	"time"

	"github.com/fae-sidecar/fae/internal/testproc"
	"github.com/fae-sidecar/fae/proto/memcache"
)

// The tests speak memcached's text protocol to real memcached servers: a
// testOp sends raw request bytes and frames the reply with memcache.Frame,
// as an owner of a pipeline would.

// result is how a testOp was answered.
type result struct {
	reply []byte
	why   Reason // ReasonNone when answered with a reply
}

// testOp is an Op that sends wire and hands its answer to res.
type testOp struct {
	wire  []byte
	f     memcache.Frame
	res   chan result
	probe bool
}

func (o *testOp) Encode(b []byte) []byte { return append(b, o.wire...) }

func (o *testOp) Scan(b []byte) (Progress, error) {
	err := o.f.Scan(b)
	return Progress{N: o.f.N, Data: o.f.Data, Done: o.f.Done}, err
}

func (o *testOp) Done(reply []byte) bool {
	if o.probe {
		return bytes.HasPrefix(reply, []byte("VERSION "))
	}
	o.res <- result{reply: bytes.Clone(reply)}
	return true
}

func (o *testOp) Fail(why Reason) {
	if !o.probe {
		o.res <- result{why: why}
	}
}

// probe is the tests' Config.Probe: memcached's "version".
func probe() Op { return &testOp{wire: []byte("version\r\n"), probe: true} }

// newOp returns an op for the request wire, whose reply is of kind.
func newOp(wire string, kind memcache.FrameKind) *testOp {
	return &testOp{wire: []byte(wire), f: memcache.Frame{Kind: kind}, res: make(chan result, 2)}
}

func setOp(key, value string) *testOp {
	return newOp("set "+key+" 0 0 "+strconv.Itoa(len(value))+"\r\n"+value+"\r\n", memcache.FrameLine)
}

func getOp(key string) *testOp { return newOp("get "+key+"\r\n", memcache.FrameValues) }

// hit is memcached's reply to a get of key holding value.
func hit(key, value string) string {
	return "VALUE " + key + " 0 " + strconv.Itoa(len(value)) + "\r\n" + value + "\r\nEND\r\n"
}

// answer waits for o's answer.
func (o *testOp) answer(t testing.TB) result {
	t.Helper()
	select {
	case r := <-o.res:
		return r
	case <-time.After(20 * time.Second):
		t.Fatalf("no answer to %.40q", o.wire)
		return result{}
	}
}

// do enqueues o on the goroutine transport's connection cn and waits for
// its reply, failing the test if it gets none.
func do(t testing.TB, p *Pipeline, cn int, o *testOp) string {
	t.Helper()
	if why := p.Enqueue(nil, cn, o); why != ReasonNone {
		t.Fatalf("enqueue %.40q: %v", o.wire, why)
	}
	r := o.answer(t)
	if r.why != ReasonNone {
		t.Fatalf("%.40q failed: %v", o.wire, r.why)
	}
	return string(r.reply)
}

// newPipeline builds a pipeline with the tests' probe and closes it when
// the test ends. Tests that are not about timeouts get a generous one.
func newPipeline(t testing.TB, cfg Config) *Pipeline {
	t.Helper()
	cfg.Probe = probe
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	p := New(cfg)
	t.Cleanup(p.Close)
	return p
}

// startMemcached starts a real memcached for the test.
func startMemcached(t testing.TB) string { return testproc.StartMemcached(t) }
