package local

import (
	"fmt"
	"strings"
	"testing"

	"github.com/fae-sidecar/fae/proto/memcache"
)

// TestHotPathAllocs pins the allocations of the hot path in steady state:
// none for a hit or a miss, one (the value's copy) for a set of a present
// key.
func TestHotPathAllocs(t *testing.T) {
	value := strings.Repeat("v", 100)
	tests := []struct {
		name string
		req  *memcache.Request
		max  float64
	}{
		{"get hit", get("k"), 0},
		{"get miss", get("missing"), 0},
		{"gets multi", gets("k", "missing", "k"), 0},
		{"gat", gat(0, "k"), 0},
		{"touch", touch("k", 0), 0},
		{"set present key", set("k", 0, 0, value), 1},
		{"set noreply", noreply(set("k", 1, 0, value)), 1},
		{"cas mismatch", cas("k", 0, 0, value, 1<<60), 1},
		{"delete miss", del("missing"), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(Config{})
			s.Serve(set("k", 0, 0, value), nil, nil)
			out := make([]byte, 0, 4096)
			got := testing.AllocsPerRun(1000, func() {
				out, _ = s.Serve(tt.req, out[:0], nil)
			})
			if got > tt.max {
				t.Fatalf("%v allocs/op, want <= %v", got, tt.max)
			}
		})
	}
}

func BenchmarkStoreGet(b *testing.B) {
	for _, size := range []int{16, 1024} {
		b.Run(fmt.Sprintf("value=%d", size), func(b *testing.B) {
			s := New(Config{})
			const n = 1024
			reqs := make([]*memcache.Request, n)
			for i := range reqs {
				key := fmt.Sprintf("key:%d", i)
				s.Serve(set(key, 0, 0, strings.Repeat("v", size)), nil, nil)
				reqs[i] = get(key)
			}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				out := make([]byte, 0, 4096)
				i := 0
				for pb.Next() {
					out, _ = s.Serve(reqs[i%n], out[:0], nil)
					i++
				}
			})
		})
	}
}

func BenchmarkStoreSet(b *testing.B) {
	for _, size := range []int{16, 1024} {
		b.Run(fmt.Sprintf("value=%d", size), func(b *testing.B) {
			s := New(Config{})
			const n = 1024
			reqs := make([]*memcache.Request, n)
			for i := range reqs {
				reqs[i] = set(fmt.Sprintf("key:%d", i), 0, 0, strings.Repeat("v", size))
				s.Serve(reqs[i], nil, nil)
			}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				out := make([]byte, 0, 64)
				i := 0
				for pb.Next() {
					out, _ = s.Serve(reqs[i%n], out[:0], nil)
					i++
				}
			})
		})
	}
}
