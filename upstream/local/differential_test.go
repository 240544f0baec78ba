package local

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/fae-sidecar/fae/proto/memcache"
)

// ownedStats are the statistics the store reports. Those in deadStats
// depend on when memcached's background threads reclaim expired or flushed
// items, so they are compared only in scenarios without such items.
var (
	ownedStats = []string{
		"cmd_get", "cmd_set", "cmd_flush", "cmd_touch", "get_hits", "get_misses",
		"delete_misses", "delete_hits", "incr_misses", "incr_hits", "decr_misses", "decr_hits",
		"cas_misses", "cas_hits", "cas_badval", "touch_hits", "touch_misses",
		"store_too_large", "store_no_memory", "limit_maxbytes", "total_items", "evictions",
	}
	deadStats = []string{"get_expired", "get_flushed", "bytes", "curr_items", "reclaimed"}
)

// TestDifferential sends the same requests to a real memcached and to a
// Store and requires byte-identical replies, then equal statistics. Both
// start empty, so even the CAS uniques must agree. The Store runs on the
// real clock; steps avoid depending on where a second boundary falls.
func TestDifferential(t *testing.T) {
	tests := []struct {
		name string
		reqs []*memcache.Request
		// dead is set when the scenario leaves expired or flushed items.
		dead bool
	}{
		{name: "storage", reqs: storageScenario()},
		{name: "arith", reqs: arithScenario()},
		{name: "retrieval", reqs: retrievalScenario()},
		{name: "expiry", reqs: expiryScenario(), dead: true},
		{name: "flush", reqs: flushScenario(), dead: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mc := startMemcached(t)
			s := New(Config{})
			for i, req := range tt.reqs {
				compareReply(t, mc, s, i, req)
			}
			compareStats(t, mc, s, tt.dead)
		})
	}
}

// TestDifferentialRandom compares long random sequences over a few keys,
// without expiry, so that every statistic is comparable.
func TestDifferentialRandom(t *testing.T) {
	for seed := range uint64(4) {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			mc := startMemcached(t)
			s := New(Config{})
			r := rand.New(rand.NewPCG(seed, 1))
			for i := range 2000 {
				compareReply(t, mc, s, i, randomRequest(r, s))
			}
			compareStats(t, mc, s, false)
		})
	}
}

func compareReply(t *testing.T, mc *memcached, s *Store, i int, req *memcache.Request) {
	t.Helper()
	w := wire(req)
	want := mc.roundTrip(t, w)
	got, _ := s.Serve(req, nil, nil)
	if string(got) != string(want) {
		t.Fatalf("request %d %.80q:\nstore     %.200q\nmemcached %.200q", i, w, got, want)
	}
}

func compareStats(t *testing.T, mc *memcached, s *Store, dead bool) {
	t.Helper()
	names := ownedStats
	if !dead {
		names = append(names, deadStats...)
	}
	want, got := mc.stats(t), statsOf(s)
	for _, name := range names {
		if got[name] != want[name] {
			t.Errorf("stat %s: store %d, memcached %d", name, got[name], want[name])
		}
	}
}

func storageScenario() []*memcache.Request {
	const (
		add     = memcache.CmdAdd
		replace = memcache.CmdReplace
		appnd   = memcache.CmdAppend
		prepend = memcache.CmdPrepend
	)
	maxValue := strings.Repeat("m", 1<<20-62) // key "big": the largest item
	return []*memcache.Request{
		set("a", 0, 0, "1"), set("a", 4294967295, 0, "22"), gets("a"),
		stor(add, "a", 0, 0, "x"), stor(add, "b", 3, 0, "bb"), gets("a", "b"),
		stor(replace, "c", 0, 0, "x"), stor(replace, "b", 5, 0, "bbb"), gets("b"),
		cas("c", 0, 0, "x", 1), cas("a", 0, 0, "x", 1), cas("a", 1, 0, "x", 2), gets("a"),
		stor(appnd, "a", 9, 0, "yz"), stor(prepend, "a", 9, 0, "w"), gets("a"),
		stor(appnd, "c", 0, 0, "x"), stor(prepend, "c", 0, 0, "x"),
		noreply(set("n", 0, 0, "v")), noreply(stor(add, "n", 0, 0, "v")), noreply(stor(replace, "m", 0, 0, "v")),
		noreply(stor(appnd, "m", 0, 0, "v")), noreply(cas("n", 0, 0, "v", 99)), noreply(cas("m", 0, 0, "v", 99)), gets("n", "m"),
		set("big", 0, 0, maxValue), gets("big"), set("big", 0, 0, maxValue+"m"), gets("big"),
		set("big", 0, 0, maxValue), stor(appnd, "big", 0, 0, "m"), stor(prepend, "big", 0, 0, "m"), noreply(stor(appnd, "big", 0, 0, "m")),
		set("big", 1, 0, maxValue), set("big", 1, 0, maxValue[4:]), gets("big"),
		stor(add, "big", 0, 0, maxValue+"mm"), cas("big", 0, 0, maxValue+"mm", 1), gets("big"),
		noreply(set("big", 0, 0, maxValue+"m")), get("big"),
		set("empty", 0, 0, ""), stor(appnd, "empty", 0, 0, ""), gets("empty"),
	}
}

func arithScenario() []*memcache.Request {
	var reqs []*memcache.Request
	for _, v := range []string{
		"10", "9", "0", "18446744073709551615", "18446744073709551616", "000000000000000000000000001",
		" 5 ", "+5", "-0", "-1", "-9223372036854775809", "-18446744073709551615", "5abc", "5 abc",
		"5\tx", "5\x00x", "", "+", "- 5", "\x00", "99999999999999999999999",
	} {
		reqs = append(reqs, set("n", 0, 0, v), incr("n", 1), gets("n"), decr("n", 3), gets("n"))
	}
	reqs = append(reqs,
		set("n", 0, 0, "5"), decr("n", 100), incr("n", 18446744073709551615), incr("n", 2), gets("n"),
		incr("none", 1), decr("none", 1), noreply(incr("n", 1)), noreply(decr("none", 1)),
		set("x", 0, 0, "x"), noreply(incr("x", 1)), gets("n"),
		set("c", 0, 0, strings.Repeat("0", 524288-62)+"1"), incr("c", 1),
		set("c", 0, 0, strings.Repeat("0", 524288-61)+"1"), incr("c", 1),
	)
	return reqs
}

func retrievalScenario() []*memcache.Request {
	return []*memcache.Request{
		get("a"), set("a", 1, 0, "aa"), set("b", 2, 0, "b"), get("a", "b", "c", "a"), gets("b", "a"),
		gat(100, "a", "c"), gats(0, "b", "a", "b"), gets("a", "b"),
		touch("a", 1000), touch("c", 0), noreply(touch("a", 0)), noreply(touch("c", 0)),
		del("a"), del("a"), noreply(del("b")), noreply(del("b")), get("a", "b"),
	}
}

func expiryScenario() []*memcache.Request {
	now := time.Now().Unix()
	return []*memcache.Request{
		set("e", 0, -1, "v"), get("e"), set("e", 0, -1, "v"), del("e"), set("e", 0, -1, "v"), set("e", 7, 0, "v"),
		set("e", 0, -1, "v"), touch("e", 0), set("e", 0, -1, "v"), incr("e", 1), set("e", 0, -1, "v"), cas("e", 0, 0, "v", 1),
		set("e", 0, -1, "v"), stor(memcache.CmdAppend, "e", 0, 0, "v"), set("e", 0, -1, "v"), stor(memcache.CmdAdd, "e", 0, 0, "w"), gets("e"),
		set("p", 0, now-3600, "v"), get("p"), set("p", 0, now+3600, "v"), get("p"), set("p", 0, 2592001, "v"), get("p"),
		set("p", 0, 2592000, "v"), get("p"), set("p", 0, 1000, "v"), touch("p", -1), get("p"),
		set("g", 0, 0, "v"), gat(-1, "g"), get("g"), set("g", 0, 0, "v"), gats(now-10, "g"), gets("g"),
	}
}

func flushScenario() []*memcache.Request {
	now := time.Now().Unix()
	return []*memcache.Request{
		set("a", 0, 0, "1"), gets("a"), flushAll(), set("b", 0, 0, "2"), gets("a", "b"),
		flushIn(0), get("b"), set("b", 0, 0, "2"), flushIn(-1), get("b"), set("b", 0, 0, "2"), gets("b"),
		set("a", 0, 0, "1"), flushAll(), flushIn(100), gets("a"), flushIn(0), gets("a"),
		set("a", 0, 0, "1"), flushIn(now - 3600), gets("a"), flushIn(1000), gets("a"),
		noreply(flushAll()), set("c", 0, 0, "3"), noreply(flushIn(-5)), gets("a", "c"), set("d", 0, 0, "4"), gets("d"),
	}
}

// randomRequest draws a request over a few keys and values. Half of its
// cas commands carry the key's current CAS, read from the store.
func randomRequest(r *rand.Rand, s *Store) *memcache.Request {
	keys := []string{"k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7"}
	values := []string{"", "0", "1", "9", "10", "99", "18446744073709551615", "abc", " 7 ", "xyzzy", strings.Repeat("z", 300)}
	key := func() string { return keys[r.IntN(len(keys))] }
	value := func() string { return values[r.IntN(len(values))] }
	var req *memcache.Request
	switch r.IntN(14) {
	case 0, 1:
		req = set(key(), r.Uint32N(3), 0, value())
	case 2:
		req = stor(memcache.CmdAdd, key(), 1, 0, value())
	case 3:
		req = stor(memcache.CmdReplace, key(), 2, 0, value())
	case 4:
		req = stor(memcache.CmdAppend, key(), 0, 0, value())
	case 5:
		req = stor(memcache.CmdPrepend, key(), 0, 0, value())
	case 6:
		k := key()
		unique := r.Uint64N(1000)
		if r.IntN(2) == 0 {
			unique = peekCas(s, k)
		}
		req = cas(k, 0, 0, value(), unique)
	case 7:
		req = incr(key(), r.Uint64N(200))
	case 8:
		req = decr(key(), r.Uint64N(200))
	case 9:
		req = del(key())
	case 10:
		req = touch(key(), 1000)
	case 11:
		req = gat(1000, key(), key())
	case 12:
		req = get(key(), key(), key())
	default:
		req = gets(key(), key())
	}
	if !req.Cmd.IsRetrieval() && r.IntN(8) == 0 {
		req.NoReply = true
	}
	return req
}

// peekCas returns key's CAS unique without counting a get, or 0.
func peekCas(s *Store, key string) uint64 {
	sh := s.shardOf([]byte(key))
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if it, ok := sh.lru.Peek(key); ok {
		return it.cas
	}
	return 0
}
