package router

import (
	"sync"
	"testing"
	"time"

	"github.com/fae-sidecar/fae/eventloop"
	"github.com/fae-sidecar/fae/proto/memcache"
	"github.com/fae-sidecar/fae/router/l1"
	"github.com/fae-sidecar/fae/upstream"
)

// lastPool holds the waiter of its last request until the test answers it.
type lastPool struct{ w upstream.Waiter }

func (p *lastPool) Serve(_ *memcache.Request, out []byte, w upstream.Waiter) ([]byte, bool) {
	p.w = w
	return out, true
}
func (p *lastPool) Stats(func(string, uint64)) {}
func (p *lastPool) Close() error               { return nil }

// countWaiter counts the replies it gets on its loop.
type countWaiter struct {
	loop *fakeLoop
	n    int
}

func (w *countWaiter) Done([]byte)          { w.n++ }
func (w *countWaiter) Loop() eventloop.Loop { return w.loop }
func (w *countWaiter) DoneOnLoop([]byte)    { w.n++ }
func (w *countWaiter) Settled() bool        { return true }

// TestReadPathGetAllocs: a get that misses L1 and leads a flight, with a
// follower, allocates nothing once warmed up: flights and their leaders
// are recycled.
func TestReadPathGetAllocs(t *testing.T) {
	for _, tc := range []struct {
		name string
		rp   ReadPath
	}{
		{"coalesce", ReadPath{Coalesce: true}},
		{"l1", ReadPath{L1: l1.New(l1.Config{MaxBytes: 1 << 20, TTL: time.Hour})}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pool := &lastPool{}
			rp := WithReadPath(pool, tc.rp)
			loop := &fakeLoop{}
			a, b := &countWaiter{loop: loop}, &countWaiter{loop: loop}
			req := get("k")
			miss := []byte(memcache.ReplyEnd) // a miss: L1 keeps nothing
			out := make([]byte, 0, 64)
			allocs := testing.AllocsPerRun(1000, func() {
				if _, async := rp.Serve(req, out, a); !async {
					t.Fatal("leader answered at once")
				}
				if _, async := rp.Serve(req, out, b); !async {
					t.Fatal("follower answered at once")
				}
				upstream.Complete(pool.w, loop, miss)
			})
			if allocs != 0 {
				t.Errorf("get through the read path: %v allocs, want 0", allocs)
			}
			if a.n != b.n || a.n < 1000 {
				t.Errorf("leader got %d replies, follower %d", a.n, b.n)
			}
		})
	}
}

// A meta write whose key came in base64 drops from L1 the item a get of
// the decoded key cached.
func TestReadPathBase64Write(t *testing.T) {
	var wg sync.WaitGroup
	pool := &fakePool{name: "p", vals: map[string]string{"foo": "v"}, async: true, wg: &wg}
	rp := WithReadPath(pool, ReadPath{L1: l1.New(l1.Config{MaxBytes: 1 << 20, TTL: time.Hour})})
	serve := func(req *memcache.Request) string {
		t.Helper()
		w := &recorder{}
		out, async := rp.Serve(req, nil, w)
		wg.Wait()
		if async {
			return w.reply
		}
		return string(out)
	}
	hit := func(v string) string { return "VALUE foo 0 1\r\n" + v + "\r\nEND\r\n" }
	if got := serve(get("foo")); got != hit("v") {
		t.Fatalf("get foo: %q", got)
	}
	pool.vals["foo"] = "w" // written behind L1's back
	if got := serve(get("foo")); got != hit("v") {
		t.Fatalf("get foo from L1: %q", got)
	}
	if got := serve(parse(t, "ms Zm9v 1 b\r\nw\r\n")); got != "p\r\n" {
		t.Fatalf("ms: %q", got)
	}
	if got := serve(get("foo")); got != hit("w") {
		t.Errorf("get foo after an ms of its base64 key: %q, want the new value", got)
	}
}

// TestReadPathMetaGet: an mg that only reads leaves L1 alone; one that may
// change the item (here: touch it) drops the key as a write does.
func TestReadPathMetaGet(t *testing.T) {
	pool := &lastPool{}
	rp := WithReadPath(pool, ReadPath{L1: l1.New(l1.Config{MaxBytes: 1 << 20, TTL: time.Hour})})
	loop := &fakeLoop{}
	w := &countWaiter{loop: loop}
	parse := func(line string) *memcache.Request {
		var p memcache.Parser
		req := &memcache.Request{}
		if _, err := p.Parse([]byte(line), req); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		return req
	}
	cached := func() bool {
		_, async := rp.Serve(get("k"), nil, w)
		if async {
			upstream.Complete(pool.w, loop, []byte("VALUE k 0 1\r\nv\r\nEND\r\n"))
		}
		return !async
	}
	if cached() {
		t.Fatal("a cold key came from L1")
	}
	if !cached() {
		t.Fatal("the get's reply did not fill L1")
	}
	for _, tc := range []struct {
		line  string
		drops bool
	}{
		{"mg k v f c\r\n", false},
		{"mg k v T30\r\n", true},
	} {
		if _, async := rp.Serve(parse(tc.line), nil, w); !async {
			t.Fatalf("%q answered without the pool", tc.line)
		}
		upstream.Complete(pool.w, loop, []byte("VA 1\r\nv\r\n"))
		if got := !cached(); got != tc.drops {
			t.Errorf("after %q: key dropped from L1 = %v, want %v", tc.line, got, tc.drops)
		}
		cached() // fill L1 again for the next case
	}
}
