package eventloop

import (
	"testing"

	"github.com/panjf2000/gnet/v2"
)

// fakeLoop is a Loop that is only an identity and an index.
type fakeLoop struct{ idx int }

func (l *fakeLoop) Index() int                { return l.idx }
func (l *fakeLoop) EventLoop() gnet.EventLoop { return nil }
func (l *fakeLoop) Defer(Flusher)             {}
func (l *fakeLoop) Flush()                    {}
func (l *fakeLoop) Closing() <-chan struct{}  { return nil }
func (l *fakeLoop) Stopped() <-chan struct{}  { return nil }

// Each loop gets its own value, made once, also when two loops share an
// index (two servers in one process) or have none.
func TestPerLoop(t *testing.T) {
	cases := []struct {
		name  string
		loops []int // the Index of each loop, in the order of their first Get
	}{
		{name: "one", loops: []int{0}},
		{name: "in order", loops: []int{0, 1, 2}},
		{name: "out of order", loops: []int{3, 0, 1}},
		{name: "shared index", loops: []int{0, 0, 1, 1}},
		{name: "no index", loops: []int{-1, 0, -1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			made := map[Loop]int{}
			p := PerLoop[int]{New: func(l Loop) *int {
				made[l]++
				v := len(made)
				return &v
			}}
			var loops []Loop
			for _, i := range tc.loops {
				loops = append(loops, &fakeLoop{idx: i})
			}
			first := map[Loop]*int{}
			for range 2 {
				for _, l := range loops {
					v := p.Get(l)
					if f, ok := first[l]; ok && f != v {
						t.Fatalf("loop %p: a second value", l)
					}
					first[l] = v
				}
			}
			seen := map[Loop]bool{}
			p.All(func(l Loop, v *int) {
				if first[l] != v || seen[l] {
					t.Errorf("All: loop %p with %p, want %p once", l, v, first[l])
				}
				seen[l] = true
			})
			for _, l := range loops {
				if made[l] != 1 || !seen[l] {
					t.Errorf("loop %p (index %d): made %d times, seen by All %v", l, l.Index(), made[l], seen[l])
				}
			}
		})
	}
}

// Get allocates nothing once the loop has its value.
func TestPerLoopGetAllocs(t *testing.T) {
	p := PerLoop[int]{New: func(Loop) *int { return new(int) }}
	l := &fakeLoop{idx: 1}
	p.Get(l)
	if n := testing.AllocsPerRun(100, func() { p.Get(l) }); n != 0 {
		t.Errorf("Get allocates %v times, want 0", n)
	}
}
