package memcache

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/fae-sidecar/fae/proto/memcache"
)

// TestPassthroughIdentical runs one script of requests through a pool and
// directly against a twin memcached started fresh alongside: every reply
// must be byte-identical, cas uniques and error lines included.
func TestPassthroughIdentical(t *testing.T) {
	viaPool, twin := startMemcached(t), startMemcached(t)
	p := newPool(t, Config{Servers: []Server{{Addr: viaPool}}, AllowFlush: true})
	d := dialDirect(t, twin)

	big := strings.Repeat("0123456789abcdef", 200<<10/16) // 200KiB: past the reader's buffer
	tooBig := strings.Repeat("x", 2<<20)                  // past memcached's 1MiB item limit
	gat := func(cmd memcache.Command, exptime int64, keys ...string) *memcache.Request {
		return retrieval(cmd, exptime, keys)
	}
	arith := func(cmd memcache.Command, key string, delta uint64) *memcache.Request {
		r := keyed(cmd, key)
		r.Delta = delta
		return r
	}
	touch := func(key string, exptime int64) *memcache.Request {
		r := keyed(memcache.CmdTouch, key)
		r.Exptime = exptime
		return r
	}
	cas := func(key, value string, unique uint64) *memcache.Request {
		r := store(memcache.CmdCas, key, value, 0)
		r.Cas = unique
		return r
	}
	steps := []struct {
		name string
		req  *memcache.Request
	}{
		{name: "set", req: store(memcache.CmdSet, "k1", "hello", 42)},
		{name: "get hit", req: get("k1")},
		{name: "get miss", req: get("nope")},
		{name: "gets", req: gets("k1")},
		{name: "cas stale", req: cas("k1", "x", 999999)},
		{name: "cas missing", req: cas("nope", "x", 1)},
		{name: "add existing", req: store(memcache.CmdAdd, "k1", "x", 0)},
		{name: "add new", req: store(memcache.CmdAdd, "k2", "two", 7)},
		{name: "replace missing", req: store(memcache.CmdReplace, "nope", "x", 0)},
		{name: "replace", req: store(memcache.CmdReplace, "k2", "TWO", 8)},
		{name: "append", req: store(memcache.CmdAppend, "k1", " world", 0)},
		{name: "prepend", req: store(memcache.CmdPrepend, "k1", ">> ", 0)},
		{name: "append missing", req: store(memcache.CmdAppend, "nope", "x", 0)},
		{name: "gets after append", req: gets("k1", "k2")},
		{name: "incr non-numeric", req: arith(memcache.CmdIncr, "k1", 1)},
		{name: "set number", req: set("n", "10")},
		{name: "incr", req: arith(memcache.CmdIncr, "n", 5)},
		{name: "decr below zero", req: arith(memcache.CmdDecr, "n", 100)},
		{name: "incr missing", req: arith(memcache.CmdIncr, "nope", 1)},
		{name: "incr wraps", req: arith(memcache.CmdIncr, "n", 1<<64-1)},
		{name: "touch", req: touch("k1", 1000)},
		{name: "touch missing", req: touch("nope", 1000)},
		{name: "gat", req: gat(memcache.CmdGat, 1000, "k1", "nope", "k2")},
		{name: "gats", req: gat(memcache.CmdGats, 0, "k2")},
		{name: "delete", req: keyed(memcache.CmdDelete, "k2")},
		{name: "delete missing", req: keyed(memcache.CmdDelete, "k2")},
		{name: "set noreply", req: noreply(set("q", "quiet"))},
		{name: "get after noreply", req: get("q")},
		{name: "incr noreply", req: noreply(arith(memcache.CmdIncr, "n", 3))},
		{name: "incr non-numeric noreply", req: noreply(arith(memcache.CmdIncr, "q", 3))},
		{name: "delete noreply", req: noreply(keyed(memcache.CmdDelete, "q"))},
		{name: "multi-get with duplicates", req: get("k1", "n", "k1", "nope", "n")},
		{name: "empty value", req: set("empty", "")},
		{name: "get empty", req: get("empty")},
		{name: "value with line breaks", req: set("crlf", "a\r\nEND\r\nb")},
		{name: "get line breaks", req: get("crlf", "k1")},
		{name: "set big", req: set("big", big)},
		{name: "get big", req: get("big", "k1", "big")},
		{name: "set too large", req: set("huge", tooBig)},
		{name: "get after too large", req: get("huge", "k1")},
		{name: "flush_all delayed", req: &memcache.Request{Cmd: memcache.CmdFlushAll, HasArg: true, Exptime: 3600}},
		{name: "flush_all", req: &memcache.Request{Cmd: memcache.CmdFlushAll}},
		{name: "get after flush", req: get("k1", "n")},
		{name: "flush_all noreply", req: noreply(&memcache.Request{Cmd: memcache.CmdFlushAll})},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			want := d.do(st.req)
			got := do(t, p, st.req)
			if !bytes.Equal(got, want) {
				t.Fatalf("pool replied\n%q\nmemcached replied\n%q", clip(got), clip(want))
			}
		})
	}

	// A successful compare-and-swap needs the cas unique from gets.
	t.Run("cas ok", func(t *testing.T) {
		do(t, p, set("c", "v1"))
		d.do(set("c", "v1"))
		reply := do(t, p, gets("c"))
		fields := strings.Fields(string(reply[:bytes.IndexByte(reply, '\r')]))
		unique, err := strconv.ParseUint(fields[len(fields)-1], 10, 64)
		if err != nil {
			t.Fatalf("no cas in %q", reply)
		}
		if want, got := d.do(cas("c", "v2", unique)), do(t, p, cas("c", "v2", unique)); !bytes.Equal(got, want) || string(got) != memcache.ReplyStored {
			t.Fatalf("pool %q, memcached %q", got, want)
		}
	})
}

// TestPassthroughAsync pins the shape of Serve's answers: keyed requests
// go async, keyless ones the pool does not own are answered at once.
func TestPassthroughAsync(t *testing.T) {
	p := newPool(t, Config{Servers: []Server{{Addr: startMemcached(t)}}})
	cases := []struct {
		name      string
		req       *memcache.Request
		wantAsync bool
		want      string
	}{
		{"get", get("a"), true, "END\r\n"},
		{"noreply set", noreply(set("a", "1")), true, ""},
		{"version is the server's", &memcache.Request{Cmd: memcache.CmdVersion}, false, "ERROR\r\n"},
		{"flush_all refused", &memcache.Request{Cmd: memcache.CmdFlushAll}, false, "SERVER_ERROR flush_all disabled for this pool\r\n"},
		{"flush_all noreply refused", noreply(&memcache.Request{Cmd: memcache.CmdFlushAll}), false, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, async, _ := call(t, p, tc.req)
			if async != tc.wantAsync || string(got) != tc.want {
				t.Fatalf("got %q async=%v, want %q async=%v", got, async, tc.want, tc.wantAsync)
			}
		})
	}
}

// TestMultiGetSpread checks a multi-get spread over three servers against
// one memcached holding the same data: same values, same order, duplicates
// answered each time.
func TestMultiGetSpread(t *testing.T) {
	addrs := []string{startMemcached(t), startMemcached(t), startMemcached(t)}
	var servers []Server
	for _, a := range addrs {
		servers = append(servers, Server{Addr: a})
	}
	p := newPool(t, Config{Servers: servers})
	d := dialDirect(t, startMemcached(t))

	var keys []string
	for i := range 60 {
		k := "spread:" + strconv.Itoa(i)
		keys = append(keys, k)
		if i%3 == 2 {
			continue // a miss
		}
		v := strings.Repeat(strconv.Itoa(i), i+1)
		req := store(memcache.CmdSet, k, v, uint32(i))
		if got := do(t, p, req); string(got) != memcache.ReplyStored {
			t.Fatalf("set %s: %q", k, got)
		}
		d.do(req)
	}
	used := map[int]bool{}
	for _, k := range keys {
		used[p.pick.Pick([]byte(k))] = true
	}
	if len(used) != 3 {
		t.Fatalf("keys landed on %d servers, want 3", len(used))
	}
	cases := []struct {
		name string
		keys []string
	}{
		{"all", keys},
		{"reversed", reversed(keys)},
		{"duplicates", []string{keys[0], keys[1], keys[0], keys[2], keys[1], keys[0]}},
		{"all misses", []string{"none:1", "none:2", "none:3", "none:4"}},
		{"one server", keysOn(p, 1, 5, "spread:")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want := d.do(get(tc.keys...))
			if got := do(t, p, get(tc.keys...)); !bytes.Equal(got, want) {
				t.Fatalf("pool\n%q\nmemcached\n%q", clip(got), clip(want))
			}
		})
	}
	var hits, misses uint64
	p.Stats(func(name string, v uint64) {
		switch name {
		case "get_hits":
			hits = v
		case "get_misses":
			misses = v
		}
	})
	if hits == 0 || misses == 0 {
		t.Errorf("get_hits %d, get_misses %d: want both counted", hits, misses)
	}
}

// TestFlushAllEveryServer checks flush_all reaches every server.
func TestFlushAllEveryServer(t *testing.T) {
	p := newPool(t, Config{
		Servers:    []Server{{Addr: startMemcached(t)}, {Addr: startMemcached(t)}, {Addr: startMemcached(t)}},
		AllowFlush: true,
	})
	var keys []string
	for i := range 3 {
		for _, k := range keysOn(p, i, 2, "f") {
			keys = append(keys, k)
			do(t, p, set(k, "v"))
		}
	}
	if got := do(t, p, &memcache.Request{Cmd: memcache.CmdFlushAll}); string(got) != memcache.ReplyOK {
		t.Fatalf("flush_all: %q", got)
	}
	if got := do(t, p, get(keys...)); string(got) != memcache.ReplyEnd {
		t.Fatalf("after flush_all: %q", clip(got))
	}
}

func reversed(s []string) []string {
	r := make([]string, len(s))
	for i, v := range s {
		r[len(s)-1-i] = v
	}
	return r
}

// clip shortens a reply for a failure message.
func clip(b []byte) []byte {
	if len(b) > 300 {
		return append(append(b[:150:150], "…"...), b[len(b)-150:]...)
	}
	return b
}
