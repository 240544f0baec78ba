package local

import (
	"testing"

	"github.com/fae-sidecar/fae/proto/memcache"
)

// The binary protocol's extras: a CAS condition on delete, append, prepend,
// incr and decr, and the new CAS unique reported through Request.CasOut.

// withCas returns r with a binary-protocol CAS condition.
func withCas(r *memcache.Request, unique uint64) *memcache.Request {
	r.Cas = unique
	return r
}

func TestCasCondition(t *testing.T) {
	// The store's CAS counter starts at 1, so the first set gets unique 1.
	tests := []struct {
		name  string
		steps []step
	}{
		{"delete", []step{
			{req: set("k", 0, 0, "v"), want: "STORED\r\n"},
			{req: withCas(del("k"), 99), want: "EXISTS\r\n"},
			{req: get("k"), want: "VALUE k 0 1\r\nv\r\nEND\r\n"},
			{req: withCas(del("k"), 1), want: "DELETED\r\n"},
			{req: withCas(del("k"), 1), want: "NOT_FOUND\r\n"},
		}},
		{"append", []step{
			{req: set("k", 0, 0, "a"), want: "STORED\r\n"},
			{req: withCas(stor(memcache.CmdAppend, "k", 0, 0, "b"), 99), want: "EXISTS\r\n"},
			{req: withCas(stor(memcache.CmdAppend, "k", 0, 0, "b"), 1), want: "STORED\r\n"},
			{req: withCas(stor(memcache.CmdPrepend, "k", 0, 0, "c"), 2), want: "STORED\r\n"},
			{req: gets("k"), want: "VALUE k 0 3 3\r\ncab\r\nEND\r\n"},
			{req: withCas(stor(memcache.CmdAppend, "nokey", 0, 0, "b"), 1), want: "NOT_STORED\r\n"},
		}},
		{"incr and decr", []step{
			{req: set("k", 0, 0, "10"), want: "STORED\r\n"},
			{req: withCas(incr("k", 1), 99), want: "EXISTS\r\n"},
			{req: withCas(incr("k", 1), 1), want: "11\r\n"},
			{req: withCas(decr("k", 1), 2), want: "10\r\n"},
			{req: withCas(decr("nokey", 1), 2), want: "NOT_FOUND\r\n"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { runSteps(t, Config{}, tt.steps) })
	}
}

func TestCasOut(t *testing.T) {
	s, _ := newTestStore(Config{})
	var got uint64
	serve := func(r *memcache.Request, want string) uint64 {
		t.Helper()
		got = 0
		r.CasOut = &got
		if out, _ := s.Serve(r, nil, nil); string(out) != want {
			t.Fatalf("%s: %q, want %q", wire(r), out, want)
		}
		return got
	}
	// Each mutation reports the unique that gets then shows.
	for _, tc := range []struct {
		name string
		req  *memcache.Request
		want string
		cas  uint64 // 0: none reported
	}{
		{name: "set", req: set("k", 0, 0, "1"), want: "STORED\r\n", cas: 1},
		{name: "add refused", req: stor(memcache.CmdAdd, "k", 0, 0, "1"), want: "NOT_STORED\r\n"},
		{name: "replace", req: stor(memcache.CmdReplace, "k", 0, 0, "2"), want: "STORED\r\n", cas: 2},
		{name: "cas", req: cas("k", 0, 0, "3", 2), want: "STORED\r\n", cas: 3},
		{name: "cas refused", req: cas("k", 0, 0, "3", 2), want: "EXISTS\r\n"},
		{name: "append", req: stor(memcache.CmdAppend, "k", 0, 0, "0"), want: "STORED\r\n", cas: 4},
		{name: "prepend", req: stor(memcache.CmdPrepend, "k", 0, 0, "1"), want: "STORED\r\n", cas: 5},
		{name: "incr in place", req: incr("k", 1), want: "131\r\n", cas: 6},
		{name: "incr longer", req: incr("k", 900), want: "1031\r\n", cas: 7},
		{name: "decr", req: decr("k", 1), want: "1030\r\n", cas: 8},
		{name: "incr miss", req: incr("nokey", 1), want: "NOT_FOUND\r\n"},
		{name: "add", req: stor(memcache.CmdAdd, "new", 0, 0, "5"), want: "STORED\r\n", cas: 9},
	} {
		if c := serve(tc.req, tc.want); c != tc.cas {
			t.Errorf("%s: CasOut %d, want %d", tc.name, c, tc.cas)
		}
	}
	if out, _ := s.Serve(gets("k"), nil, nil); string(out) != "VALUE k 0 4 8\r\n1030\r\nEND\r\n" {
		t.Errorf("gets k: %q", out)
	}
}
