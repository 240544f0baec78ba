package memcache

import (
	"fmt"
	"strings"
	"testing"

	"github.com/fae-sidecar/fae/proto/memcache"
)

// statNames are the counters the pool keeps under memcached's names.
var statNames = []string{"cmd_get", "cmd_set", "cmd_touch", "get_hits", "get_misses", "delete_hits",
	"delete_misses", "incr_hits", "incr_misses", "decr_hits", "decr_misses", "touch_hits", "touch_misses"}

// gat and gats count per key as memcached 1.6.18 counts them: cmd_touch
// and touch_hits or touch_misses, and neither cmd_get nor get_hits or
// get_misses.
func TestGatStats(t *testing.T) {
	testStats(t, []string{
		"set a 0 0 1\r\nx\r\n", "set b 0 0 1\r\nx\r\n", "gat 60 a", "gat 60 nokey", "gats 60 b", "gats 60 nokey",
		"gat 60 a nokey b", "gats 0 nokey b", "get a nokey", "touch a 60", "touch nokey 60",
	})
}

// The unlink a server sends after refusing a set as too large (a delete,
// or an md with b for a base64 key: Origin OriginUnlink) counts nothing:
// memcached counts nothing for a set it refuses so, not even cmd_set, nor
// for the unlink it then does itself.
func TestUnlinkStats(t *testing.T) {
	big := strings.Repeat("v", memcache.DefaultMaxItemSize+1)
	ref := startMemcached(t)
	dialDirect(t, ref).raw([]byte("set a 0 0 1\r\nx\r\nset a 0 0 " + fmt.Sprint(len(big)) + "\r\n" + big + "\r\n" +
		"set nokey 0 0 " + fmt.Sprint(len(big)) + "\r\n" + big + "\r\n" +
		"set b 0 0 1\r\nx\r\nms Yg== " + fmt.Sprint(len(big)) + " b\r\n" + big + "\r\n"))

	// The same through a pool: the sets it was given, and the unlinks a
	// server sends for the refused ones.
	p := newPool(t, Config{Servers: []Server{{Addr: startMemcached(t)}}})
	var parser memcache.Parser
	for _, tc := range []struct {
		in     string
		unlink bool
	}{
		{in: "set a 0 0 1\r\nx\r\n"},
		{in: "delete a\r\n", unlink: true},
		{in: "delete nokey\r\n", unlink: true},
		{in: "set b 0 0 1\r\nx\r\n"},
		{in: "md Yg== b\r\n", unlink: true},
	} {
		var req memcache.Request
		if _, err := parser.Parse([]byte(tc.in), &req); err != nil {
			t.Fatalf("%q: %v", tc.in, err)
		}
		if tc.unlink {
			req.NoReply, req.Origin = true, memcache.OriginUnlink
		}
		do(t, p, &req)
	}
	compareStats(t, p, memcachedStats(t, ref))
}

// testStats sends each request through a pool and compares the pool's
// counters with those of the memcached behind it.
func testStats(t *testing.T, reqs []string) {
	t.Helper()
	addr := startMemcached(t)
	p := newPool(t, Config{Servers: []Server{{Addr: addr}}})
	var parser memcache.Parser
	for _, in := range reqs {
		if !strings.HasSuffix(in, "\n") {
			in += "\r\n"
		}
		var req memcache.Request
		if _, err := parser.Parse([]byte(in), &req); err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		do(t, p, &req)
	}
	compareStats(t, p, memcachedStats(t, addr))
}

// memcachedStats returns the numeric counters of the memcached at addr.
func memcachedStats(t *testing.T, addr string) map[string]uint64 {
	t.Helper()
	stats := map[string]uint64{}
	for _, line := range strings.Split(string(dialDirect(t, addr).raw([]byte("stats\r\n"))), "\r\n") {
		var name string
		var v uint64
		if _, err := fmt.Sscanf(line, "STAT %s %d", &name, &v); err == nil {
			stats[name] = v
		}
	}
	return stats
}

// compareStats requires the pool's counters to be memcached's, want.
func compareStats(t *testing.T, p *Pool, want map[string]uint64) {
	t.Helper()
	for _, name := range statNames {
		if got := stat(p, name); got != want[name] {
			t.Errorf("%s = %d, memcached counts %d", name, got, want[name])
		}
	}
}
