package local

import (
	"strings"
	"testing"

	"github.com/fae-sidecar/fae/proto/memcache"
)

// TestStatsCounting pins how each command counts, as observed on
// memcached 1.6.18.
func TestStatsCounting(t *testing.T) {
	tests := []struct {
		name  string
		steps []*memcache.Request
		want  map[string]uint64
	}{
		{"get counts per key", []*memcache.Request{set("a", 0, 0, "1"), get("a", "b", "a"), gets("c")},
			map[string]uint64{"cmd_get": 4, "get_hits": 2, "get_misses": 2, "cmd_touch": 0}},
		{"gat counts as touch only", []*memcache.Request{set("a", 0, 0, "1"), gat(0, "a", "b"), gats(0, "a")},
			map[string]uint64{"cmd_get": 0, "get_hits": 0, "get_misses": 0, "cmd_touch": 3, "touch_hits": 2, "touch_misses": 1}},
		{"touch", []*memcache.Request{set("a", 0, 0, "1"), touch("a", 0), touch("b", 0)},
			map[string]uint64{"cmd_touch": 2, "touch_hits": 1, "touch_misses": 1}},
		{"cmd_set counts every fitting storage command", []*memcache.Request{
			set("a", 0, 0, "1"), stor(memcache.CmdAdd, "a", 0, 0, "1"), stor(memcache.CmdReplace, "b", 0, 0, "1"),
			stor(memcache.CmdAppend, "b", 0, 0, "1"), cas("a", 0, 0, "1", 9), set("a", 0, 0, strings.Repeat("x", 1<<20))},
			map[string]uint64{"cmd_set": 5, "total_items": 1, "store_too_large": 1, "cas_badval": 1}},
		{"cas", []*memcache.Request{cas("a", 0, 0, "1", 1), set("a", 0, 0, "1"), cas("a", 0, 0, "1", 7), cas("a", 0, 0, "1", 1)},
			map[string]uint64{"cas_misses": 1, "cas_badval": 1, "cas_hits": 1, "total_items": 2}},
		{"delete", []*memcache.Request{set("a", 0, 0, "1"), del("a"), del("a")},
			map[string]uint64{"delete_hits": 1, "delete_misses": 1, "curr_items": 0, "bytes": 0}},
		{"incr and decr; non-numeric counts nothing", []*memcache.Request{
			set("a", 0, 0, "1"), incr("a", 1), incr("b", 1), decr("a", 1), decr("b", 1), set("c", 0, 0, "x"), incr("c", 1), decr("c", 1)},
			map[string]uint64{"incr_hits": 1, "incr_misses": 1, "decr_hits": 1, "decr_misses": 1, "total_items": 2}},
		{"only a longer incr result counts as a new item", []*memcache.Request{set("a", 0, 0, "9"), incr("a", 1), decr("a", 1)},
			map[string]uint64{"total_items": 2, "curr_items": 1}},
		{"any lookup counts expired items", []*memcache.Request{
			set("e", 0, -1, "1"), get("e"), set("e", 0, -1, "1"), del("e"), set("e", 0, -1, "1"), incr("e", 1),
			set("e", 0, -1, "1"), touch("e", 0), set("e", 0, -1, "1"), set("e", 0, 0, "1")},
			map[string]uint64{"get_expired": 5, "get_misses": 1, "delete_misses": 1, "incr_misses": 1, "touch_misses": 1, "curr_items": 1}},
		{"flushed items", []*memcache.Request{set("a", 0, 0, "1"), set("b", 0, 0, "1"), flushAll(), get("a"), noreply(flushIn(0))},
			map[string]uint64{"cmd_flush": 2, "get_flushed": 1, "get_misses": 1, "curr_items": 1}},
		{"bytes and curr_items count as memcached", []*memcache.Request{
			set("a", 5, 0, "109"), set("big", 0, 0, strings.Repeat("0", 27)), set("n", 0, 0, "0 ")},
			map[string]uint64{"bytes": 218, "curr_items": 3, "total_items": 3, "limit_maxbytes": 64 << 20}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newTestStore(Config{})
			for _, r := range tt.steps {
				s.Serve(r, nil, nil)
			}
			got := statsOf(s)
			for name, want := range tt.want {
				if got[name] != want {
					t.Errorf("%s = %d, want %d", name, got[name], want)
				}
			}
		})
	}
}

// TestStatsNames checks that Stats reports exactly memcached's names for
// what the store owns, in memcached's order.
func TestStatsNames(t *testing.T) {
	want := []string{
		"cmd_get", "cmd_set", "cmd_flush", "cmd_touch", "get_hits", "get_misses", "get_expired",
		"get_flushed", "delete_misses", "delete_hits", "incr_misses", "incr_hits", "decr_misses",
		"decr_hits", "cas_misses", "cas_hits", "cas_badval", "touch_hits", "touch_misses",
		"store_too_large", "store_no_memory", "limit_maxbytes", "bytes", "curr_items",
		"total_items", "evictions", "reclaimed",
	}
	var got []string
	New(Config{}).Stats(func(name string, _ uint64) { got = append(got, name) })
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("names:\n got %v\nwant %v", got, want)
	}
}
