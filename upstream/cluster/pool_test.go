package cluster

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fae-sidecar/fae/peers/ring"
	"github.com/fae-sidecar/fae/proto/memcache"
	"github.com/fae-sidecar/fae/upstream"
	"github.com/fae-sidecar/fae/upstream/local"
)

// The other sidecars of these tests are local stores behind links that
// answer later from a goroutine (as a peer link's reader does), or at once
// with a failure (a peer that is down).

// asyncLink serves requests on its store from a goroutine.
type asyncLink struct {
	s    *local.Store
	down bool
	wg   *sync.WaitGroup
}

func (l *asyncLink) Serve(req *memcache.Request, out []byte, w upstream.Waiter) ([]byte, bool) {
	if l.down {
		return append(out, "SERVER_ERROR upstream peer connection refused\r\n"...), false
	}
	r := new(memcache.Request)
	req.CopyTo(r, nil)
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		reply, _ := l.s.Serve(r, nil, nil)
		w.Done(reply)
	}()
	return out, true
}
func (l *asyncLink) Stats(func(string, uint64)) {}
func (l *asyncLink) Close() error               { return nil }

type links map[string]*asyncLink

func (ls links) Link(addr string) upstream.Pool {
	if l := ls[addr]; l != nil {
		return l
	}
	return nil
}

// testCluster is sidecar "a" of a ring a, b, c and the stores of all three.
type testCluster struct {
	p      *Pool
	stores map[string]*local.Store
	links  links
	ring   *ring.Table
	wg     sync.WaitGroup
}

func newTestCluster(t *testing.T, replicas int) *testCluster {
	t.Helper()
	tc := &testCluster{stores: map[string]*local.Store{}, links: links{}, ring: new(ring.Table)}
	var nodes []ring.Node
	for _, n := range []string{"a", "b", "c"} {
		tc.stores[n] = local.New(local.Config{MaxBytes: 8 << 20})
		if n != "a" {
			tc.links[n] = &asyncLink{s: tc.stores[n], wg: &tc.wg}
		}
		nodes = append(nodes, ring.Node{Name: n})
	}
	if _, err := tc.ring.Set(nodes); err != nil {
		t.Fatal(err)
	}
	p, err := New(Config{Self: "a", Replicas: replicas, Ring: tc.ring, Local: tc.stores["a"], Links: tc.links, Locks: nil})
	if err != nil {
		t.Fatal(err)
	}
	tc.p = p
	return tc
}

// waiter takes one later reply.
type waiter struct{ ch chan string }

func (w *waiter) Done(reply []byte) { w.ch <- string(reply) }

// do serves text request s on p and returns the reply.
func do(t *testing.T, p upstream.Pool, s string) string {
	t.Helper()
	var req memcache.Request
	if _, err := (&memcache.Parser{}).Parse([]byte(s), &req); err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	w := &waiter{ch: make(chan string, 1)}
	out, async := p.Serve(&req, nil, w)
	if !async {
		return string(out)
	}
	select {
	case r := <-w.ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatalf("%q: no reply", s)
	}
	return ""
}

func setReq(key string) string {
	v := "val:" + key
	return fmt.Sprintf("set %s 5 0 %d\r\n%s\r\n", key, len(v), v)
}

func hit(key string) string {
	v := "val:" + key
	return fmt.Sprintf("VALUE %s 5 %d\r\n%s\r\nEND\r\n", key, len(v), v)
}

func TestWritesReachEveryOwner(t *testing.T) {
	tc := newTestCluster(t, 2)
	for i := range 50 {
		k := fmt.Sprintf("k%d", i)
		if got := do(t, tc.p, setReq(k)); got != "STORED\r\n" {
			t.Fatalf("set %s: %q", k, got)
		}
		tc.wg.Wait()
		owners := tc.ring.Owners([]byte(k), 2, nil)
		for n, s := range tc.stores {
			got := do(t, s, "get "+k+"\r\n")
			if want := slices.Contains(owners, n); (got == hit(k)) != want {
				t.Fatalf("%s (owners %v) at %s: %q", k, owners, n, got)
			}
		}
		if got := do(t, tc.p, "get "+k+"\r\n"); got != hit(k) {
			t.Fatalf("get %s: %q", k, got)
		}
	}
}

// TestReadRepairs: a key only one owner holds (the other restarted empty)
// is read through the pool and set back at the owner that missed it, with
// its flags and ttl.
func TestReadRepairs(t *testing.T) {
	tc := newTestCluster(t, 2)
	for i := range 50 {
		k := fmt.Sprintf("r%d", i)
		owners := tc.ring.Owners([]byte(k), 2, nil)
		holder, empty := tc.stores[owners[1]], owners[0]
		v := "val:" + k
		if got := do(t, holder, fmt.Sprintf("set %s 5 1000 %d\r\n%s\r\n", k, len(v), v)); got != "STORED\r\n" {
			t.Fatal(got)
		}
		if got := do(t, tc.p, "get "+k+"\r\n"); got != hit(k) {
			t.Fatalf("get %s (owners %v): %q", k, owners, got)
		}
		tc.wg.Wait()
		got := do(t, tc.stores[empty], "mg "+k+" v f t\r\n")
		if !strings.HasPrefix(got, fmt.Sprintf("VA %d f5 t", len(v))) || strings.Contains(got, "t-1") || !strings.HasSuffix(got, v+"\r\n") {
			t.Fatalf("%s not repaired at %s: %q", k, empty, got)
		}
	}
}

// TestMultiGetInOrder: a multi-get split per primary owner is merged in
// request order, with keys nobody holds left out, keys only a second owner
// holds found there (and set back at the primary), and, with an owner
// down, its keys read from the next owners.
func TestMultiGetInOrder(t *testing.T) {
	tc := newTestCluster(t, 2)
	var keys []string
	want := ""
	for i := range 40 {
		k := fmt.Sprintf("m%d", i)
		keys = append(keys, k, "missing"+k)
		if i%2 == 0 {
			do(t, tc.p, setReq(k))
		} else { // at the second owner only: the primary restarted empty
			do(t, tc.stores[tc.ring.Owners([]byte(k), 2, nil)[1]], setReq(k))
		}
		want += strings.TrimSuffix(hit(k), "END\r\n")
	}
	tc.wg.Wait()
	multi := "get " + strings.Join(keys, " ") + "\r\n"
	if got := do(t, tc.p, multi); got != want+"END\r\n" {
		t.Fatalf("multi-get: %q\nwant %q", got, want+"END\r\n")
	}
	tc.wg.Wait()
	for i := 1; i < 40; i += 2 {
		k := fmt.Sprintf("m%d", i)
		primary := tc.ring.Owners([]byte(k), 2, nil)[0]
		if got := do(t, tc.stores[primary], "get "+k+"\r\n"); got != hit(k) {
			t.Fatalf("%s not set back at its primary %s: %q", k, primary, got)
		}
	}
	tc.links["b"].down = true
	if got := do(t, tc.p, multi); got != want+"END\r\n" {
		t.Fatalf("multi-get with b down: %q\nwant %q", got, want+"END\r\n")
	}
	tc.wg.Wait()
}

// TestOwnerDown: an owner that fails at once while it is still on the ring
// (down, not yet marked down) makes writes of its keys answer its failure,
// never another owner's STORED it did not take, while reads find the key
// at the other owner; once the ring drops it, writes go to the others.
func TestOwnerDown(t *testing.T) {
	tc := newTestCluster(t, 2)
	for i := range 50 {
		k := fmt.Sprintf("d%d", i)
		if got := do(t, tc.p, setReq(k)); got != "STORED\r\n" {
			t.Fatalf("set %s: %q", k, got)
		}
	}
	tc.wg.Wait()
	tc.links["b"].down = true
	for i := range 50 {
		k := fmt.Sprintf("d%d", i)
		owners := tc.ring.Owners([]byte(k), 2, nil)
		got := do(t, tc.p, fmt.Sprintf("set %s 5 0 3\r\nnew\r\n", k))
		if want := slices.Contains(owners, "b"); strings.HasPrefix(got, "SERVER_ERROR ") != want || !want && got != "STORED\r\n" {
			t.Fatalf("set %s (owners %v, b down, on the ring): %q", k, owners, got)
		}
		if got := do(t, tc.p, "get "+k+"\r\n"); !strings.HasPrefix(got, "VALUE "+k+" 5 ") {
			t.Fatalf("get %s: %q", k, got)
		}
	}
	tc.wg.Wait()
	if _, err := tc.ring.Set([]ring.Node{{Name: "a"}, {Name: "c"}}); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		k := fmt.Sprintf("d%d", i)
		if got := do(t, tc.p, setReq(k)); got != "STORED\r\n" {
			t.Fatalf("set %s with b off the ring: %q", k, got)
		}
		if got := do(t, tc.p, "get "+k+"\r\n"); got != hit(k) {
			t.Fatalf("get %s: %q", k, got)
		}
	}
	tc.wg.Wait()
}

// TestLocalAllocs pins that the pool allocates nothing of its own where a
// request is served locally: a get of a key this sidecar is the primary
// owner of and holds, and a write of a key it alone owns (replicas 1). The
// store's own allocations (a set's item) are counted apart.
func TestLocalAllocs(t *testing.T) {
	tc := newTestCluster(t, 1)
	var key string
	for i := 0; ; i++ {
		if key = fmt.Sprintf("own%d", i); tc.ring.Owners([]byte(key), 1, nil)[0] == "a" {
			break
		}
	}
	for _, s := range []string{setReq(key), "get " + key + "\r\n"} {
		var req memcache.Request
		if _, err := (&memcache.Parser{}).Parse([]byte(s), &req); err != nil {
			t.Fatal(err)
		}
		out := make([]byte, 0, 256)
		w := &waiter{}
		store := testing.AllocsPerRun(100, func() { _, _ = tc.stores["a"].Serve(&req, out[:0], w) })
		if n := testing.AllocsPerRun(100, func() {
			if _, async := tc.p.Serve(&req, out[:0], w); async {
				t.Fatal("async")
			}
		}); n != store {
			t.Errorf("%q: %v allocs/op, the store alone %v", s, n, store)
		}
	}
}

// syncLink serves on its store at once: what a forwarded request
// allocates is then the cluster pool's own.
type syncLink struct{ s *local.Store }

func (l syncLink) Serve(req *memcache.Request, out []byte, w upstream.Waiter) ([]byte, bool) {
	return l.s.Serve(req, out, w)
}
func (l syncLink) Stats(func(string, uint64)) {}
func (l syncLink) Close() error               { return nil }

type syncLinks map[string]*local.Store

func (ls syncLinks) Link(addr string) upstream.Pool { return syncLink{ls[addr]} }

// BenchmarkForwarded reports what the pool itself allocates for a request
// that leaves this sidecar: a get of a key it does not own (hit at the
// first owner), and a set, a replace (decided by the first owner, then a
// set at the second) and an incr (decided by the first owner, read back,
// then set at the second) of a key it does not own (two owners).
func BenchmarkForwarded(b *testing.B) {
	tc := newTestCluster(&testing.T{}, 2)
	tc.p.cfg.Links = syncLinks{"b": tc.stores["b"], "c": tc.stores["c"]}
	var key string
	for i := 0; ; i++ {
		if key = fmt.Sprintf("fw%d", i); !slices.Contains(tc.ring.Owners([]byte(key), 2, nil), "a") {
			break
		}
	}
	for _, bc := range []struct{ name, req string }{
		{"set", setReq(key)},
		{"get", "get " + key + "\r\n"},
		{"replace", "replace " + key + " 5 0 1\r\n1\r\n"},
		{"incr", "incr " + key + " 1\r\n"},
	} {
		var req memcache.Request
		_, _ = (&memcache.Parser{}).Parse([]byte(bc.req), &req)
		b.Run(bc.name, func(b *testing.B) {
			out := make([]byte, 0, 256)
			b.ReportAllocs()
			for b.Loop() {
				if _, async := tc.p.Serve(&req, out[:0], nil); async {
					b.Fatal("async")
				}
			}
		})
	}
}

// TestGatTouchesEveryOwner: gat (one key or several) changes the ttl at
// every owner, and answers the hits in request order.
func TestGatTouchesEveryOwner(t *testing.T) {
	tc := newTestCluster(t, 2)
	var keys []string
	want := ""
	for i := range 10 {
		k := fmt.Sprintf("g%d", i)
		do(t, tc.p, setReq(k))
		keys = append(keys, k, "missing"+k)
		want += strings.TrimSuffix(hit(k), "END\r\n")
	}
	tc.wg.Wait()
	if got := do(t, tc.p, "gat 1000 "+keys[0]+"\r\n"); got != hit(keys[0]) {
		t.Fatalf("gat one key: %q", got)
	}
	if got := do(t, tc.p, "gat 1000 "+strings.Join(keys, " ")+"\r\n"); got != want+"END\r\n" {
		t.Fatalf("gat: %q\nwant %q", got, want+"END\r\n")
	}
	tc.wg.Wait()
	for _, k := range keys {
		if strings.HasPrefix(k, "missing") {
			continue
		}
		for _, o := range tc.ring.Owners([]byte(k), 2, nil) {
			if got := do(t, tc.stores[o], "mg "+k+" t\r\n"); got == "HD t-1\r\n" || !strings.HasPrefix(got, "HD t") {
				t.Fatalf("%s at owner %s after gat: %q, want a ttl", k, o, got)
			}
		}
	}
}

// TestMetaReadFallsThrough: a read-only mg of a key that only one owner
// holds (the other restarted empty, or down) is answered from it, with
// the flags the client asked for, whichever owner comes first; a key no
// owner holds is a miss, quiet or not.
func TestMetaReadFallsThrough(t *testing.T) {
	tc := newTestCluster(t, 2)
	for i := range 60 {
		k := fmt.Sprintf("m%d", i)
		owners := tc.ring.Owners([]byte(k), 2, nil)
		for _, holder := range owners {
			for _, s := range tc.stores {
				do(t, s, "flush_all\r\n")
			}
			v := "val:" + k
			if got := do(t, tc.stores[holder], fmt.Sprintf("set %s 5 0 %d\r\n%s\r\n", k, len(v), v)); got != "STORED\r\n" {
				t.Fatal(got)
			}
			want := fmt.Sprintf("VA %d f5 k%s\r\n%s\r\n", len(v), k, v)
			if got := do(t, tc.p, "mg "+k+" v f k\r\n"); got != want {
				t.Fatalf("mg %s (owners %v, held by %s): %q, want %q", k, owners, holder, got, want)
			}
			// The holder down: the other owner misses.
			if l := tc.links[holder]; l != nil {
				l.down = true
				got := do(t, tc.p, "mg "+k+" v\r\n")
				l.down = false
				if got != "EN\r\n" && !strings.HasPrefix(got, "SERVER_ERROR ") {
					t.Fatalf("mg %s with its holder %s down: %q", k, holder, got)
				}
			}
		}
		for _, s := range tc.stores {
			do(t, s, "flush_all\r\n")
		}
		if got := do(t, tc.p, "mg "+k+" v\r\n"); got != "EN\r\n" {
			t.Fatalf("mg %s held by none: %q", k, got)
		}
		if got := do(t, tc.p, "mg "+k+" v q\r\n"); got != "" {
			t.Fatalf("quiet mg %s held by none: %q", k, got)
		}
	}
	tc.wg.Wait()
}

// TestMetaCasFromPrimary: an mg asking for the cas through a sidecar that
// is a later owner of the key answers the primary's unique, so an ms with
// it as C succeeds (the primary decides a cas); an mg with N leaves its
// stub at the first owner alone.
func TestMetaCasFromPrimary(t *testing.T) {
	tc := newTestCluster(t, 2)
	n := 0
	for i := range 200 {
		k := fmt.Sprintf("c%d", i)
		owners := tc.ring.Owners([]byte(k), 2, nil)
		if owners[1] != "a" {
			continue
		}
		n++
		if got := do(t, tc.p, setReq(k)); got != "STORED\r\n" {
			t.Fatalf("set %s: %q", k, got)
		}
		tc.wg.Wait()
		got := do(t, tc.p, "mg "+k+" c\r\n")
		var cas uint64
		if _, err := fmt.Sscanf(got, "HD c%d\r\n", &cas); err != nil {
			t.Fatalf("mg %s c: %q", k, got)
		}
		v := "new:" + k
		if got := do(t, tc.p, fmt.Sprintf("ms %s %d C%d\r\n%s\r\n", k, len(v), cas, v)); got != "HD\r\n" {
			t.Fatalf("ms %s C%d (owners %v): %q", k, cas, owners, got)
		}
		tc.wg.Wait()
		for _, o := range owners {
			if got := do(t, tc.stores[o], "mg "+k+" v\r\n"); got != fmt.Sprintf("VA %d\r\n%s\r\n", len(v), v) {
				t.Fatalf("%s at owner %s after the cas: %q", k, o, got)
			}
		}
		nk := "n" + k
		nOwners := tc.ring.Owners([]byte(nk), 2, nil)
		if got := do(t, tc.p, "mg "+nk+" v N30\r\n"); !strings.HasPrefix(got, "VA 0 W") {
			t.Fatalf("mg %s N30: %q", nk, got)
		}
		tc.wg.Wait()
		if got := do(t, tc.stores[nOwners[1]], "mg "+nk+" v\r\n"); got != "EN\r\n" {
			t.Fatalf("mg N stub of %s at the second owner %s: %q", nk, nOwners[1], got)
		}
	}
	if n == 0 {
		t.Fatal("no key has a as its second owner")
	}
}
