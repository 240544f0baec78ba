package pipeline

import (
	"context"

	"github.com/panjf2000/gnet/v2"

	"github.com/fae-sidecar/fae/eventloop"
	"github.com/fae-sidecar/fae/internal/hist"
)

// What an owner asks of a running pipeline besides Enqueue: the latency of
// its round trips, and whether requests are still in flight (before a
// reload closes it). All of it reads what the request path keeps anyway
// (atomics, or the loops' own state on the loops); none of it costs a
// request anything.

// Latency adds the durations of the pipeline's round trips to s: from the
// moment an op is enqueued to the moment its reply is read, per op (probes
// not counted).
func (p *Pipeline) Latency(s *hist.Snapshot) {
	for _, sv := range p.servers {
		for _, c := range sv.conns {
			c.lat.AddTo(s)
		}
	}
	if p.loops != nil {
		p.loops.All(func(_ eventloop.Loop, lp *Lane) { lp.lat.AddTo(s) })
	}
}

// Pending returns the number of ops queued or in flight on the pipeline's
// connections (probes not counted). The loop transport's connections are
// counted on their loops, so an op a loop was enqueueing when Pending was
// called is counted. It returns early with ctx's error.
func (p *Pipeline) Pending(ctx context.Context) (int, error) {
	n := 0
	for _, s := range p.servers {
		for _, c := range s.conns {
			c.mu.Lock()
			for i := range c.n {
				if !c.q[(c.head+i)%len(c.q)].probe {
					n++
				}
			}
			c.mu.Unlock()
		}
	}
	if p.loops == nil {
		return n, nil
	}
	var lps []*Lane
	var loops []eventloop.Loop
	p.loops.All(func(l eventloop.Loop, lp *Lane) {
		loops, lps = append(loops, l), append(lps, lp)
	})
	counts := make(chan int, len(lps))
	for i, lp := range lps {
		err := loops[i].EventLoop().Execute(ctx, gnet.RunnableFunc(func(context.Context) error {
			counts <- lp.pending()
			return nil
		}))
		if err != nil {
			counts <- 0 // the loop has stopped: its connections are closed
		}
	}
	for i := range lps {
		select {
		case c := <-counts:
			n += c
		case <-loops[i].Stopped():
			// Nothing runs on a stopped loop any more.
		case <-ctx.Done():
			return n, ctx.Err()
		}
	}
	return n, nil
}

// pending counts the ops on lp's connections, probes aside, on lp's loop.
func (lp *Lane) pending() int {
	n := 0
	for _, lc := range lp.conns {
		for i := range lc.n {
			if !lc.q[(lc.head+i)%len(lc.q)].probe {
				n++
			}
		}
	}
	return n
}
