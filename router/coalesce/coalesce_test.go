package coalesce

import (
	"sync"
	"testing"
)

type rec struct {
	mu  sync.Mutex
	got []string
}

func (r *rec) Done(b []byte) { r.mu.Lock(); r.got = append(r.got, string(b)); r.mu.Unlock() }

func TestJoinMerges(t *testing.T) {
	g := New()
	var a, b, c rec
	f, lead := g.Join([]byte("k"), &a)
	if !lead {
		t.Fatal("first reader must lead")
	}
	if _, lead := g.Join([]byte("k"), &b); lead {
		t.Fatal("second reader must follow")
	}
	if _, lead := g.Join([]byte("other"), &c); !lead {
		t.Fatal("other key must lead its own flight")
	}
	f.Done([]byte("v"))
	if len(a.got) != 1 || len(b.got) != 1 || a.got[0] != "v" || b.got[0] != "v" {
		t.Errorf("a=%v b=%v", a.got, b.got)
	}
	if g.Merged() != 1 {
		t.Errorf("merged %d", g.Merged())
	}
	// After Done a new reader leads again.
	if _, lead := g.Join([]byte("k"), &a); !lead {
		t.Error("finished flight still joinable")
	}
}

func TestForgetDetaches(t *testing.T) {
	g := New()
	var a, b rec
	f, _ := g.Join([]byte("k"), &a)
	g.Forget([]byte("k"))
	f2, lead := g.Join([]byte("k"), &b)
	if !lead || f2 == f {
		t.Fatal("a reader after a write joined the older flight")
	}
	if !f.Stale() || f2.Stale() {
		t.Error("stale flags wrong")
	}
	f.Done([]byte("old"))
	// The old flight's end must not remove the new one's entry.
	var c rec
	if f3, lead := g.Join([]byte("k"), &c); lead || f3 != f2 {
		t.Error("the stale flight's end unlinked the new flight")
	}
	f2.Done([]byte("new"))
	if a.got[0] != "old" || b.got[0] != "new" || c.got[0] != "new" {
		t.Errorf("a=%v b=%v c=%v", a.got, b.got, c.got)
	}
}

func TestAnswerSkipsLeader(t *testing.T) {
	g := New()
	var a, b rec
	f, _ := g.Join([]byte("k"), &a)
	g.Join([]byte("k"), &b)
	if f.Answer([]byte("v")) {
		t.Error("not stale")
	}
	if len(a.got) != 0 || len(b.got) != 1 {
		t.Errorf("a=%v b=%v", a.got, b.got)
	}
}

func TestConcurrent(t *testing.T) {
	g := New()
	var wg sync.WaitGroup
	var leaders sync.Map
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := &rec{}
			f, lead := g.Join([]byte("hot"), r)
			if lead {
				leaders.Store(f, true)
				f.Done([]byte("v"))
			}
		}()
	}
	wg.Wait()
}

// TestHashCollision: keys whose hashes collide share a chain but never a
// flight, and forgetting one leaves the other joinable.
func TestHashCollision(t *testing.T) {
	g := New()
	s := &g.shards[0]
	var a, b, c, d rec
	fa, lead := g.join(s, 7, []byte("a"), &a, nil, false)
	if !lead {
		t.Fatal("first reader of a must lead")
	}
	fb, lead := g.join(s, 7, []byte("b"), &b, nil, false)
	if !lead || fb == fa {
		t.Fatal("b joined the flight of a, whose hash collides")
	}
	if f, lead := g.join(s, 7, []byte("b"), &c, nil, false); lead || f != fb {
		t.Fatal("second reader of b did not join b's flight")
	}
	s.forget(7, []byte("a"))
	if !fa.Stale() || fb.Stale() {
		t.Fatalf("forget a: stale a=%v b=%v, want true false", fa.Stale(), fb.Stale())
	}
	if f, lead := g.join(s, 7, []byte("b"), &d, nil, false); lead || f != fb {
		t.Fatal("forgetting a detached b's flight")
	}
	fb.Done([]byte("vb"))
	fa.Done([]byte("va"))
	if a.got[0] != "va" || b.got[0] != "vb" || c.got[0] != "vb" || d.got[0] != "vb" {
		t.Errorf("a=%v b=%v c=%v d=%v", a.got, b.got, c.got, d.got)
	}
	if len(s.m) != 0 {
		t.Errorf("%d chains left after every flight ended", len(s.m))
	}
}

// TestLeadAllocs: once warmed up, leading and ending a flight allocates
// nothing (flights are recycled).
func TestLeadAllocs(t *testing.T) {
	g := New()
	var a, b rec
	key := []byte("some:key")
	allocs := testing.AllocsPerRun(1000, func() {
		f, _ := g.Join(key, &a)
		g.Join(key, &b)
		if ws := f.Finish(); len(ws) != 2 {
			t.Fatalf("%d waiters, want 2", len(ws))
		}
		f.Release()
	})
	if allocs != 0 {
		t.Errorf("lead + follow + finish: %v allocs, want 0", allocs)
	}
}
