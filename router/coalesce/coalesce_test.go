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
	f2.Done([]byte("new"))
	if a.got[0] != "old" || b.got[0] != "new" {
		t.Errorf("a=%v b=%v", a.got, b.got)
	}
	// The old flight's end must not remove the new one's entry.
	var c rec
	f3, lead := g.Join([]byte("k"), &c)
	if !lead || f3 == f2 {
		t.Error("flight map corrupted")
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
