package mcbin

import "testing"

// Inputs of the allocation tests and the benchmarks.
var (
	inGet    = pkt(OpGet, "", "key:0123456789", "").bytes()
	inGetKQ  = pkt(OpGetKQ, "", "key:0123456789", "").bytes()
	inSet    = pkt(OpSet, storeExt(0, 0), "key:0123456789", value100).bytes()
	inIncr   = pkt(OpIncrement, arithExt(1, 0, 0), "counter", "").bytes()
	inNoop   = pkt(OpNoop, "", "", "").bytes()
	inPipe10 = func() []byte {
		var b []byte
		for range 9 {
			b = append(b, inGetKQ...)
		}
		return append(b, inNoop...)
	}()
)

func TestParseAllocs(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{name: "get", in: inGet},
		{name: "set 100 bytes", in: inSet},
		{name: "increment", in: inIncr},
		{name: "noop", in: inNoop},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p Parser
			var req Request
			allocs := testing.AllocsPerRun(100, func() {
				if _, err := p.Parse(tc.in, &req); err != nil {
					t.Fatal(err)
				}
			})
			if allocs != 0 {
				t.Fatalf("%v allocs per Parse, want 0", allocs)
			}
		})
	}
}

func TestAppendAllocs(t *testing.T) {
	out := make([]byte, 0, 512)
	key, value := []byte("key:0123456789"), []byte(value100)
	allocs := testing.AllocsPerRun(100, func() {
		flags := [4]byte{0, 0, 0, 42}
		r := Response{Opcode: OpGetK, Cas: 99, Extras: flags[:], Key: key, Value: value}
		out = AppendResponse(out[:0], &r)
		out = AppendError(out, OpGet, 1, StatusKeyNotFound)
		out = AppendKeyMiss(out, OpGetK, 1, key)
	})
	if allocs != 0 {
		t.Fatalf("%v allocs per response, want 0", allocs)
	}
}
