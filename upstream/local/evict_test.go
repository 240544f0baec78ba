package local

import (
	"fmt"
	"strings"
	"testing"
)

func TestEvictionBoundsBytes(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"one shard", Config{MaxBytes: 64 << 10, MaxItemSize: 4 << 10, Shards: 1}},
		{"eight shards", Config{MaxBytes: 64 << 10, MaxItemSize: 4 << 10, Shards: 8}},
		{"shards lowered to fit items", Config{MaxBytes: 64 << 10, MaxItemSize: 16 << 10, Shards: 64}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newTestStore(tt.cfg)
			for i := range 5000 {
				value := strings.Repeat("v", i%3000)
				if got, _ := s.Serve(set(fmt.Sprint("key", i), 0, 0, value), nil, nil); string(got) != "STORED\r\n" {
					t.Fatalf("set %d: %q", i, got)
				}
				if st := statsOf(s); st["bytes"] > uint64(tt.cfg.MaxBytes) {
					t.Fatalf("after %d sets: bytes %d > MaxBytes %d", i+1, st["bytes"], tt.cfg.MaxBytes)
				}
			}
			st := statsOf(s)
			if st["evictions"] == 0 || st["evictions"]+st["curr_items"] != 5000 {
				t.Fatalf("evictions %d + curr_items %d != 5000", st["evictions"], st["curr_items"])
			}
			if got, _ := s.Serve(get("key4999"), nil, nil); !strings.HasPrefix(string(got), "VALUE key4999 ") {
				t.Fatalf("newest item evicted: %q", got)
			}
		})
	}
}

// TestEvictionOrder checks that a read protects an item from eviction
// and that dead items dropped for room count as reclaimed.
func TestEvictionOrder(t *testing.T) {
	// Items of 59+2+38 = 99 bytes; room for 10.
	s, _ := newTestStore(Config{MaxBytes: 990, MaxItemSize: 400, Shards: 1})
	v := strings.Repeat("v", 38)
	s.Serve(set("k0", 0, -1, v), nil, nil) // dead from the start
	for i := 1; i < 10; i++ {
		s.Serve(set(fmt.Sprint("k", i), 0, 0, v), nil, nil)
	}
	s.Serve(get("k1"), nil, nil)          // k1 becomes the most recent
	s.Serve(set("ka", 0, 0, v), nil, nil) // drops k0, dead
	s.Serve(set("kb", 0, 0, v), nil, nil) // drops k2, not k1
	for key, want := range map[string]bool{"k1": true, "k2": false, "k3": true, "kb": true} {
		got, _ := s.Serve(get(key), nil, nil)
		if hit := string(got) != "END\r\n"; hit != want {
			t.Errorf("get %s hit = %v, want %v", key, hit, want)
		}
	}
	st := statsOf(s)
	if st["reclaimed"] != 1 || st["evictions"] != 1 || st["bytes"] != 990 {
		t.Fatalf("reclaimed %d evictions %d bytes %d; want 1 1 990", st["reclaimed"], st["evictions"], st["bytes"])
	}
}
