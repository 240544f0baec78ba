package eventloop

import (
	"sync"
	"sync/atomic"
)

// PerLoop keeps one *T per event loop, made by New on the first Get for the
// loop. Get takes no lock once the loop has its value. The zero value with
// New set is ready to use.
type PerLoop[T any] struct {
	New func(Loop) *T

	mu     sync.Mutex
	byIdx  atomic.Pointer[[]perLoopEntry[T]]
	others map[Loop]*T // loops whose Index another loop took (two servers)
}

type perLoopEntry[T any] struct {
	l Loop
	v *T
}

// Get returns l's value, making it first if needed.
func (p *PerLoop[T]) Get(l Loop) *T {
	i := l.Index()
	if s := p.byIdx.Load(); s != nil && i >= 0 && i < len(*s) && (*s)[i].l == l {
		return (*s)[i].v
	}
	return p.slow(l, i)
}

func (p *PerLoop[T]) slow(l Loop, i int) *T {
	p.mu.Lock()
	defer p.mu.Unlock()
	var cur []perLoopEntry[T]
	if s := p.byIdx.Load(); s != nil {
		cur = *s
	}
	if i >= 0 && i < len(cur) && cur[i].l == l {
		return cur[i].v
	}
	if v, ok := p.others[l]; ok {
		return v
	}
	v := p.New(l)
	if i >= 0 && (i >= len(cur) || cur[i].l == nil) {
		next := make([]perLoopEntry[T], max(len(cur), i+1))
		copy(next, cur)
		next[i] = perLoopEntry[T]{l: l, v: v}
		p.byIdx.Store(&next)
		return v
	}
	if p.others == nil {
		p.others = map[Loop]*T{}
	}
	p.others[l] = v
	return v
}

// All calls f with every value made so far.
func (p *PerLoop[T]) All(f func(Loop, *T)) {
	p.mu.Lock()
	var es []perLoopEntry[T]
	if s := p.byIdx.Load(); s != nil {
		es = append(es, *s...)
	}
	for l, v := range p.others {
		es = append(es, perLoopEntry[T]{l: l, v: v})
	}
	p.mu.Unlock()
	for _, e := range es {
		if e.v != nil {
			f(e.l, e.v)
		}
	}
}
