package memcache

import (
	"encoding/base64"
	"fmt"
	"testing"

	"github.com/fae-sidecar/fae/proto/memcache"
)

func TestMetaKind(t *testing.T) {
	tests := []struct {
		in   string
		want memcache.FrameKind
	}{
		{"mg k q v\r\n", memcache.FrameMeta},
		{"mg k q N0\r\n", memcache.FrameMeta},
		{"ma k q\r\n", memcache.FrameMeta},
		{"ma k q N0\r\n", memcache.FrameMetaFenced},
		{"ma k N0\r\n", memcache.FrameMeta},
	}
	var p memcache.Parser
	for _, tc := range tests {
		var req memcache.Request
		if _, err := p.Parse([]byte(tc.in), &req); err != nil {
			t.Fatal(err)
		}
		if got := metaKind(&req); got != tc.want {
			t.Errorf("metaKind(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// A base64 key (flag b) lives on the server its decoded bytes hash to:
// where libmemcached, hashing raw key bytes, puts the same key.
func TestMetaBase64Placement(t *testing.T) {
	addrs := []string{startMemcached(t), startMemcached(t), startMemcached(t)}
	var servers []Server
	for _, a := range addrs {
		servers = append(servers, Server{Addr: a})
	}
	p := newPool(t, Config{Servers: servers})
	var parser memcache.Parser
	for i := range 12 {
		raw := fmt.Sprintf("key %d\x01", i)
		b64 := base64.StdEncoding.EncodeToString([]byte(raw))
		var req memcache.Request
		if _, err := parser.Parse([]byte("ms "+b64+" 1 b\r\nv\r\n"), &req); err != nil {
			t.Fatal(err)
		}
		if got := do(t, p, &req); string(got) != "HD\r\n" {
			t.Fatalf("ms %q: %q", raw, got)
		}
		want := p.pick.Pick([]byte(raw))
		for s, a := range addrs {
			got := dialDirect(t, a).raw([]byte("mg " + b64 + " b v\r\n"))
			if hit := string(got) == "VA 1\r\nv\r\n"; hit != (s == want) {
				t.Errorf("key %q on server %d: %q; the raw key hashes to server %d", raw, s, got, want)
			}
		}
	}
	if raceEnabled {
		return // sync.Pool drops items under -race
	}
	var req memcache.Request
	if _, err := parser.Parse([]byte("md a2V5IDA= b\r\n"), &req); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { p.metaPart(&req, path{}) }); n != 0 {
		t.Errorf("placing a base64 key allocates %v times, want 0", n)
	}
}

// The pool counts meta commands as memcached counts them (but for an ma
// without q that creates its item: the pool counts a hit).
func TestMetaStats(t *testing.T) {
	testStats(t, []string{
		"ms a 1 T0\r\n1\r\n", "ms YiBi 1 b MA\r\nx\r\n", "mg a v", "mg nokey v", "mg a T60 v", "mg nokey T60",
		"mg a q k", "mg nokey q", "ma a", "ma a MD D1", "ma nokey", "ma nokey MD", "ma a C1 v", "md a C1", "md a",
		"md a q", "mg YQ== b v",
	})
}

// An ma with q and N (sent fenced by an mn) is answered only when it
// creates its counter: memcached then counts neither a hit nor a miss, and
// a hit when it finds the counter and sends nothing.
func TestMetaStatsFenced(t *testing.T) {
	testStats(t, []string{
		"ms a 1 T0\r\n1\r\n", "ma a q N0 J5", "ma a q N0 J5 MD v", "ma new1 q N0 J5", "ma new2 q N0 J5 MD v",
		"ma a q N0 C1", "ma new3 q N0 J1 C1",
	})
}
