package router

import (
	"testing"

	"github.com/panjf2000/gnet/v2"

	"github.com/fae-sidecar/fae/eventloop"
	"github.com/fae-sidecar/fae/proto/memcache"
	"github.com/fae-sidecar/fae/upstream"
)

// fakeLoop is an eventloop.Loop that is only an identity.
type fakeLoop struct{ idx int }

func (l *fakeLoop) Index() int                { return l.idx }
func (l *fakeLoop) EventLoop() gnet.EventLoop { return nil }
func (l *fakeLoop) Defer(eventloop.Flusher)   {}
func (l *fakeLoop) Flush()                    {}
func (l *fakeLoop) Closing() <-chan struct{}  { return nil }
func (l *fakeLoop) Stopped() <-chan struct{}  { return nil }

// clientWaiter is a client's request on a loop.
type clientWaiter struct {
	loop    *fakeLoop
	settled bool
	got     []string
}

// Done records a reply handed over from another loop (a wake-up).
func (w *clientWaiter) Done(b []byte)        { w.got = append(w.got, "woken:"+string(b)) }
func (w *clientWaiter) Loop() eventloop.Loop { return w.loop }
func (w *clientWaiter) DoneOnLoop(b []byte)  { w.got = append(w.got, string(b)) }
func (w *clientWaiter) Settled() bool        { return w.settled }

// heldPool keeps every request until the test answers it, as the loop
// transport would: on the request's loop.
type heldPool struct{ reqs []heldReq }

type heldReq struct {
	cmd memcache.Command
	w   upstream.Waiter
}

func (p *heldPool) Serve(req *memcache.Request, out []byte, w upstream.Waiter) ([]byte, bool) {
	p.reqs = append(p.reqs, heldReq{cmd: req.Cmd, w: w})
	return out, true
}
func (p *heldPool) Stats(func(string, uint64)) {}
func (p *heldPool) Close() error               { return nil }

func (p *heldPool) answer(t *testing.T, i int, reply string) {
	t.Helper()
	w := p.reqs[i].w
	if upstream.LoopOf(w) == nil {
		t.Fatalf("request %d (%s) reached the pool on no loop: a wrapper lost its loop", i, p.reqs[i].cmd)
	}
	upstream.Complete(w, upstream.LoopOf(w), []byte(reply))
}

// TestReadPathLanes: a read joins another loop's flight only when its
// client has nothing in flight, and a write detaches the key's flights
// again when answered, so that no reader gets a read older than its own
// write, whose request may be in flight on another loop's connection.
func TestReadPathLanes(t *testing.T) {
	pool := &heldPool{}
	rp := WithReadPath(pool, ReadPath{Coalesce: true})
	a, b := &fakeLoop{0}, &fakeLoop{1}
	serve := func(req *memcache.Request, w *clientWaiter) {
		t.Helper()
		if out, async := rp.Serve(req, nil, w); !async || len(out) != 0 {
			t.Fatalf("%s answered at once: %q", req.Cmd, out)
		}
	}
	set := &memcache.Request{Cmd: memcache.CmdSet, Keys: [][]byte{[]byte("k")}, Data: []byte("new")}
	oldValue := "VALUE k 0 3\r\nold\r\nEND\r\n"

	// Loop A reads k (upstream get 0).
	r1 := &clientWaiter{loop: a, settled: true}
	serve(get("k"), r1)
	// Loop B's client writes k (upstream 1) and, pipelined behind it,
	// reads k: it must not join a flight of loop A, which may overtake
	// its write.
	w := &clientWaiter{loop: b, settled: true}
	serve(set, w)
	r2 := &clientWaiter{loop: a, settled: true} // joins nothing: the write detached get 0
	serve(get("k"), r2)
	r3 := &clientWaiter{loop: b, settled: false} // its write is in flight
	serve(get("k"), r3)
	if len(pool.reqs) != 4 {
		t.Fatalf("%d upstream requests, want 4 (get, set, get on A, get on B)", len(pool.reqs))
	}
	// A free reader of loop B may join loop A's flight (get 2)...
	r4 := &clientWaiter{loop: b, settled: true}
	serve(get("k"), r4)
	if len(pool.reqs) != 4 {
		t.Fatalf("a free reader did not join: %d upstream requests", len(pool.reqs))
	}
	// ...but once the write is answered, flights from before its answer
	// are detached: the next free reader leads.
	pool.answer(t, 1, "STORED\r\n")
	r5 := &clientWaiter{loop: b, settled: true}
	serve(get("k"), r5)
	if len(pool.reqs) != 5 {
		t.Fatalf("a reader after the write's answer joined an older flight: %d upstream requests", len(pool.reqs))
	}

	pool.answer(t, 0, oldValue)
	pool.answer(t, 2, oldValue) // memcached may have read it before the set
	pool.answer(t, 3, "VALUE k 0 3\r\nnew\r\nEND\r\n")
	pool.answer(t, 4, "VALUE k 0 3\r\nnew\r\nEND\r\n")
	for name, tc := range map[string]struct {
		w    *clientWaiter
		want string
	}{
		"r1": {r1, oldValue},
		"w":  {w, "STORED\r\n"},
		"r2": {r2, oldValue},
		"r3": {r3, "VALUE k 0 3\r\nnew\r\nEND\r\n"},
		"r4": {r4, "woken:" + oldValue}, // loop A's flight answers it from loop A
		"r5": {r5, "VALUE k 0 3\r\nnew\r\nEND\r\n"},
	} {
		if len(tc.w.got) != 1 || tc.w.got[0] != tc.want {
			t.Errorf("%s got %q, want [%q]", name, tc.w.got, tc.want)
		}
	}
}
