package memcache

import (
	"strings"
	"testing"
)

// Inputs of the allocation tests and the benchmarks.
var (
	inGet    = []byte("get k\r\n")
	inGet100 = []byte("get " + manyKeys(100, "key:0123456789") + "\r\n")
	inSet    = []byte("set k 0 0 100\r\n" + strings.Repeat("v", 100) + "\r\n")
)

func TestParseAllocs(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
	}{
		{name: "get k", in: inGet},
		{name: "get 100 keys", in: inGet100},
		{name: "set 100 bytes", in: inSet},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var p Parser
			var req Request
			if _, err := p.Parse(tc.in, &req); err != nil {
				t.Fatal(err)
			}
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

func TestAppendValueAllocs(t *testing.T) {
	out := make([]byte, 0, 256)
	key, data := []byte("key:0123456789"), []byte(strings.Repeat("v", 100))
	allocs := testing.AllocsPerRun(100, func() {
		out = AppendValue(out[:0], key, 42, data, 1234567, true)
	})
	if allocs != 0 {
		t.Fatalf("%v allocs per AppendValue, want 0", allocs)
	}
}

func TestAppendRequestAllocs(t *testing.T) {
	var p Parser
	var req Request
	if _, err := p.Parse(inSet, &req); err != nil {
		t.Fatal(err)
	}
	out := make([]byte, 0, 256)
	allocs := testing.AllocsPerRun(100, func() {
		out = AppendRequest(out[:0], &req)
	})
	if allocs != 0 {
		t.Fatalf("%v allocs per AppendRequest, want 0", allocs)
	}
}
