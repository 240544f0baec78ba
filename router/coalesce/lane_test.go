package coalesce

import "testing"

// TestJoinLane: readers join their own lane's flight; another lane's only
// when free; each lane's flight ends on its own; Forget detaches them all.
func TestJoinLane(t *testing.T) {
	g := New()
	key := []byte("k")
	var a1, a2, b1, b2, bFree rec
	fa, lead := g.JoinLane(key, &a1, "A", false)
	if !lead {
		t.Fatal("first reader must lead")
	}
	if f, lead := g.JoinLane(key, &a2, "A", false); lead || f != fa {
		t.Fatal("a reader of the same lane must join")
	}
	fb, lead := g.JoinLane(key, &b1, "B", false)
	if !lead || fb == fa {
		t.Fatal("a busy reader of another lane must lead its own flight")
	}
	if f, lead := g.JoinLane(key, &b2, "B", false); lead || f != fb {
		t.Fatal("lane B's next reader must join lane B's flight")
	}
	if f, lead := g.JoinLane(key, &bFree, "B", true); lead || (f != fa && f != fb) {
		t.Fatal("a free reader must join a flight")
	}
	if fa.Stale() || fb.Stale() {
		t.Fatal("fresh flights are not stale")
	}

	// Lane A's flight ends first; B's stays joinable, A leads anew.
	fa.Done([]byte("a"))
	if len(a1.got) != 1 || len(a2.got) != 1 {
		t.Fatalf("lane A readers: %v %v", a1.got, a2.got)
	}
	var b3 rec
	if f, lead := g.JoinLane(key, &b3, "B", false); lead || f != fb {
		t.Fatal("lane B's flight must survive lane A's end")
	}
	var a3 rec
	fa2, lead := g.JoinLane(key, &a3, "A", false)
	if !lead {
		t.Fatal("lane A must lead again after its flight ended")
	}

	// A write detaches both.
	g.Forget(key)
	if !fa2.Stale() || !fb.Stale() {
		t.Fatal("Forget must mark every lane's flight stale")
	}
	var c rec
	if _, lead := g.JoinLane(key, &c, "B", true); !lead {
		t.Fatal("after Forget a reader leads")
	}
	fb.Done([]byte("b"))
	fa2.Done([]byte("a2"))
	if len(b1.got)+len(b2.got)+len(b3.got) != 3 || len(a3.got) != 1 {
		t.Fatalf("answers: b1=%v b2=%v b3=%v a3=%v", b1.got, b2.got, b3.got, a3.got)
	}
	// The detached flights' ends must not unlink the new one.
	var d rec
	if _, lead := g.JoinLane(key, &d, "B", false); lead {
		t.Fatal("the flight led after Forget must still be joinable")
	}
}
