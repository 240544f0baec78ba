package thrift

import (
	"bytes"
	"context"
	"testing"

	apache "github.com/apache/thrift/lib/go/thrift"

	"github.com/fae-sidecar/fae/proto/thrift/fae"
)

// Inputs of the allocation tests and the benchmarks, encoded by apache's
// encoder as a client would.
var (
	benchCtx   = &fae.Context{Rid: 123456789, Reason: "bench", UID: 42}
	inNoop     = encodeCall(&testing.T{}, "noop", apache.CALL, 1, &fae.FunServantNoopArgs{X: 7})
	inPing     = encodeCall(&testing.T{}, "ping", apache.CALL, 1, &fae.FunServantPingArgs{C: benchCtx})
	inLcGet    = encodeCall(&testing.T{}, "lc_get", apache.CALL, 1, &fae.FunServantLcGetArgs{C: benchCtx, Key: "key:0123456789"})
	inLcGetBig = encodeCall(&testing.T{}, "lc_get", apache.CALL, 1, &fae.FunServantLcGetArgs{C: benchCtx, Key: "key:big"})
	inLcSet    = encodeCall(&testing.T{}, "lc_set", apache.CALL, 1, &fae.FunServantLcSetArgs{C: benchCtx, Key: "key:0123456789", Value: value100})
	inMcGet    = encodeCall(&testing.T{}, "mc_get", apache.CALL, 1, &fae.FunServantMcGetArgs{C: benchCtx, Pool: "default", Key: "key:0123456789"})
	inUnknown  = encodeCall(&testing.T{}, "no_such_method", apache.CALL, 1, &fae.FunServantNoopArgs{X: 7})
	value100   = bytes.Repeat([]byte("v"), 100)
)

// benchHandler is a testHandler holding the items the benchmarks read.
func benchHandler() *testHandler {
	h := newTestHandler()
	h.lc["key:0123456789"] = value100
	h.lc["key:big"] = bytes.Repeat([]byte("b"), 16<<10)
	h.mc["default/key:0123456789"] = fae.TMemcacheData{Data: value100, Flags: 3}
	return h
}

// parseInputs are the inputs of the header allocation test and benchmark.
var parseInputs = []struct {
	name string
	in   []byte
}{
	{name: "noop", in: inNoop},
	{name: "lc_get", in: inLcGet},
	{name: "unknown method", in: inUnknown},
}

func TestParseAllocs(t *testing.T) {
	for _, tc := range parseInputs {
		t.Run(tc.name, func(t *testing.T) {
			var h Header
			allocs := testing.AllocsPerRun(100, func() {
				msg, _, err := ParseFrame(tc.in, 0)
				if err != nil {
					t.Fatal(err)
				}
				if err := ParseHeader(msg, &h); err != nil {
					t.Fatal(err)
				}
			})
			if allocs != 0 {
				t.Fatalf("%v allocs per ParseFrame+ParseHeader, want 0", allocs)
			}
		})
	}
}

func TestAppendExceptionAllocs(t *testing.T) {
	out := make([]byte, 0, 256)
	allocs := testing.AllocsPerRun(100, func() {
		out = AppendException(out[:0], []byte("no_such_method"), 1, ExceptionUnknownMethod, "Unknown function")
	})
	if allocs != 0 {
		t.Fatalf("%v allocs per AppendException, want 0", allocs)
	}
}

// processInputs are the calls of the allocation test and the benchmark,
// with the allocations a call may make: noop and an unknown method none; a
// call with a Context allocates the Context and its reason, and one string
// or slice per string or binary argument, which the handler may keep.
var processInputs = []struct {
	name      string
	in        []byte
	maxAllocs float64
}{
	{name: "noop", in: inNoop, maxAllocs: 0},
	{name: "unknown method", in: inUnknown, maxAllocs: 0},
	{name: "ping", in: inPing, maxAllocs: 2},
	{name: "lc_get 100B", in: inLcGet, maxAllocs: 3},
	{name: "lc_get 16KiB", in: inLcGetBig, maxAllocs: 3},
	{name: "lc_set 100B", in: inLcSet, maxAllocs: 4},
	{name: "mc_get 100B", in: inMcGet, maxAllocs: 4 + 2}, // + the handler's item key and copy of the item
}

func TestProcessAllocs(t *testing.T) {
	for _, tc := range processInputs {
		t.Run(tc.name, func(t *testing.T) {
			p := NewProcessor(benchHandler())
			ctx := context.Background()
			out := make([]byte, 0, 32<<10)
			msg, _, _ := ParseFrame(tc.in, 0)
			allocs := testing.AllocsPerRun(100, func() {
				var err error
				if out, err = p.Process(ctx, msg, out[:0]); err != nil {
					t.Fatal(err)
				}
			})
			if allocs > tc.maxAllocs {
				t.Fatalf("%v allocs per call, want at most %v", allocs, tc.maxAllocs)
			}
		})
	}
}
