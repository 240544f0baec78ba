package local

import (
	"strings"
	"testing"

	"github.com/fae-sidecar/fae/proto/memcache"
)

func TestStorage(t *testing.T) {
	const (
		add     = memcache.CmdAdd
		replace = memcache.CmdReplace
		appnd   = memcache.CmdAppend
		prepend = memcache.CmdPrepend
	)
	// The largest value for key "k" with flags 0 under the default 1 MiB
	// item limit: 1048576 - 59 - 1, as memcached 1.6.18 accepts.
	maxValue := strings.Repeat("a", 1<<20-60)
	tests := []struct {
		name  string
		steps []step
	}{
		{"set overwrites", []step{
			{req: set("k", 1, 0, "a"), want: "STORED\r\n"},
			{req: set("k", 2, 0, "bb"), want: "STORED\r\n"},
			{req: gets("k"), want: "VALUE k 2 2 2\r\nbb\r\nEND\r\n"},
		}},
		{"add only when absent", []step{
			{req: stor(add, "k", 0, 0, "a"), want: "STORED\r\n"},
			{req: stor(add, "k", 0, 0, "b"), want: "NOT_STORED\r\n"},
			{req: gets("k"), want: "VALUE k 0 1 1\r\na\r\nEND\r\n"},
		}},
		{"add over an expired item", []step{
			{req: set("k", 0, -1, "a"), want: "STORED\r\n"},
			{req: stor(add, "k", 0, 0, "b"), want: "STORED\r\n"},
			{req: get("k"), want: "VALUE k 0 1\r\nb\r\nEND\r\n"},
		}},
		{"replace only when present", []step{
			{req: stor(replace, "k", 0, 0, "a"), want: "NOT_STORED\r\n"},
			{req: set("k", 0, 0, "a"), want: "STORED\r\n"},
			{req: stor(replace, "k", 7, 0, "b"), want: "STORED\r\n"},
			{req: gets("k"), want: "VALUE k 7 1 2\r\nb\r\nEND\r\n"},
		}},
		{"cas", []step{
			{req: cas("k", 0, 0, "a", 1), want: "NOT_FOUND\r\n"},
			{req: set("k", 0, 0, "a"), want: "STORED\r\n"},
			{req: cas("k", 0, 0, "b", 2), want: "EXISTS\r\n"},
			{req: cas("k", 0, 0, "b", 0), want: "EXISTS\r\n"},
			{req: cas("k", 9, 0, "b", 1), want: "STORED\r\n"},
			{req: gets("k"), want: "VALUE k 9 1 2\r\nb\r\nEND\r\n"},
			{req: cas("k", 0, 0, "c", 1), want: "EXISTS\r\n"},
		}},
		{"cas on an expired item", []step{
			{req: set("k", 0, 1, "a"), want: "STORED\r\n"},
			{advance: 1e9, req: cas("k", 0, 0, "b", 1), want: "NOT_FOUND\r\n"},
		}},
		{"append and prepend keep flags and exptime", []step{
			{req: set("k", 9, 100, "x"), want: "STORED\r\n"},
			{req: stor(appnd, "k", 3, 0, "y"), want: "STORED\r\n"},
			{req: stor(prepend, "k", 4, -1, "z"), want: "STORED\r\n"},
			{req: gets("k"), want: "VALUE k 9 3 3\r\nzxy\r\nEND\r\n"},
			{advance: 100e9, req: get("k"), want: "END\r\n"},
		}},
		{"append and prepend need the item", []step{
			{req: stor(appnd, "k", 0, 0, "y"), want: "NOT_STORED\r\n"},
			{req: stor(prepend, "k", 0, 0, "y"), want: "NOT_STORED\r\n"},
			{req: get("k"), want: "END\r\n"},
		}},
		{"noreply answers nothing, whatever the outcome", []step{
			{req: noreply(set("k", 0, 0, "a")), want: ""},
			{req: noreply(stor(add, "k", 0, 0, "b")), want: ""},
			{req: noreply(stor(replace, "q", 0, 0, "b")), want: ""},
			{req: noreply(stor(appnd, "q", 0, 0, "b")), want: ""},
			{req: noreply(cas("k", 0, 0, "b", 99)), want: ""},
			{req: noreply(cas("q", 0, 0, "b", 99)), want: ""},
			{req: noreply(set("k", 0, 0, maxValue+"a")), want: ""},
			{req: get("k"), want: "END\r\n"},
		}},
		{"largest item", []step{
			{req: set("k", 0, 0, maxValue), want: "STORED\r\n"},
			{req: set("k", 0, 0, maxValue+"a"), want: "SERVER_ERROR object too large for cache\r\n"},
			{req: set("k", 1, 0, maxValue[4:]), want: "STORED\r\n"},
			{req: set("k", 1, 0, maxValue[3:]), want: "SERVER_ERROR object too large for cache\r\n"},
		}},
		{"a refused set removes the old value", []step{
			{req: set("k", 0, 0, "old"), want: "STORED\r\n"},
			{req: set("k", 0, 0, maxValue+"a"), want: "SERVER_ERROR object too large for cache\r\n"},
			{req: get("k"), want: "END\r\n"},
		}},
		{"a refused add, cas or append keeps it", []step{
			{req: set("k", 0, 0, "old"), want: "STORED\r\n"},
			{req: stor(add, "k", 0, 0, maxValue+"a"), want: "SERVER_ERROR object too large for cache\r\n"},
			{req: cas("k", 0, 0, maxValue+"a", 1), want: "SERVER_ERROR object too large for cache\r\n"},
			{req: stor(appnd, "k", 0, 0, maxValue+"a"), want: "SERVER_ERROR object too large for cache\r\n"},
			{req: get("k"), want: "VALUE k 0 3\r\nold\r\nEND\r\n"},
		}},
		{"append beyond the item limit is NOT_STORED", []step{
			{req: set("k", 0, 0, maxValue), want: "STORED\r\n"},
			{req: stor(appnd, "k", 0, 0, "b"), want: "NOT_STORED\r\n"},
			{req: stor(prepend, "k", 0, 0, "b"), want: "NOT_STORED\r\n"},
			{req: gets("k"), want: "VALUE k 0 1048516 1\r\n" + maxValue + "\r\nEND\r\n"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { runSteps(t, Config{}, tt.steps) })
	}
}

// TestOutOfMemory covers an item that fits the item limit but not the
// memory: memcached answers so when it cannot free enough room.
func TestOutOfMemory(t *testing.T) {
	runSteps(t, Config{MaxBytes: 1000, MaxItemSize: 2000}, []step{
		{req: set("k", 0, 0, "old"), want: "STORED\r\n"},
		{req: set("k", 0, 0, strings.Repeat("a", 1000)), want: "SERVER_ERROR out of memory storing object\r\n"},
		{req: get("k"), want: "END\r\n"},
	})
}
