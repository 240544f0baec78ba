// Package coalesce merges concurrent reads of one key into one upstream call:
// the first reader leads, later readers of the same key wait for its reply.
// A write to the key detaches the flight, so a read that starts after the
// write never gets the reply of a read that started before it.
package coalesce

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// Waiter receives a reply; it has the shape of upstream.Waiter.
type Waiter interface {
	Done(reply []byte)
}

const numShards = 32

// Group tracks the reads in flight. Its zero value is not usable: use New.
// It is safe for concurrent use.
type Group struct {
	seed   maphash.Seed
	shards [numShards]shard
	merged atomic.Uint64
}

type shard struct {
	mu sync.Mutex
	m  map[string]*Flight
}

// Flight is one upstream read and the readers waiting for it.
type Flight struct {
	g       *Group
	s       *shard
	key     string
	lane    any      // the leader's lane (see JoinLane)
	next    *Flight  // guarded by s.mu: the key's flight of another lane
	waiters []Waiter // guarded by s.mu; nil once done
	stale   bool     // guarded by s.mu: a write detached the flight
}

// New returns an empty group.
func New() *Group {
	g := &Group{seed: maphash.MakeSeed()}
	for i := range g.shards {
		g.shards[i].m = map[string]*Flight{}
	}
	return g
}

func (g *Group) shard(key []byte) *shard {
	return &g.shards[maphash.Bytes(g.seed, key)%numShards]
}

// Join adds w to the flight of key. It returns the flight and true when the
// caller leads: it must start the read with the flight as its waiter and
// finish it with Done or Answer. A follower just waits for w.Done.
func (g *Group) Join(key []byte, w Waiter) (*Flight, bool) {
	return g.JoinLane(key, w, nil, false)
}

// JoinLane is Join for readers whose requests travel on several paths
// (lanes: e.g. one upstream connection per event loop), where a read may
// overtake an earlier write of the same reader that took another lane. A
// reader joins a flight of its own lane; a flight of another lane only when
// free, that is when none of its own earlier requests is unanswered (the
// caller must then detach the key's flights also when a write's reply
// arrives, see Forget, so that the flights it finds started after its
// writes were done). Otherwise it leads a flight for its lane.
func (g *Group) JoinLane(key []byte, w Waiter, lane any, free bool) (*Flight, bool) {
	s := g.shard(key)
	s.mu.Lock()
	first, ok := s.m[string(key)]
	for f := first; f != nil; f = f.next {
		if f.lane == lane || free {
			f.waiters = append(f.waiters, w)
			s.mu.Unlock()
			g.merged.Add(1)
			return f, false
		}
	}
	f := &Flight{g: g, s: s, lane: lane, waiters: []Waiter{w}}
	if ok {
		f.key, f.next = first.key, first.next
		first.next = f
	} else {
		f.key = string(key)
		s.m[f.key] = f
	}
	s.mu.Unlock()
	return f, true
}

// Forget detaches the flight of key, if any: it was started before a write
// to key (or, called when the write's reply arrives, before the write was
// answered), so later readers must not join it, nor may its reply be
// cached.
func (g *Group) Forget(key []byte) {
	s := g.shard(key)
	s.mu.Lock()
	if f, ok := s.m[string(key)]; ok {
		for ; f != nil; f = f.next {
			f.stale = true
		}
		delete(s.m, string(key))
	}
	s.mu.Unlock()
}

// Merged counts the reads that joined another's flight.
func (g *Group) Merged() uint64 { return g.merged.Load() }

// finish ends the flight and returns its waiters and whether it went stale.
func (f *Flight) finish() ([]Waiter, bool) {
	f.s.mu.Lock()
	ws, stale := f.waiters, f.stale
	f.waiters = nil
	if !stale {
		// Unlink f from its key's flights (a stale one is unlinked already).
		first := f.s.m[f.key]
		switch {
		case first == f && f.next == nil:
			delete(f.s.m, f.key)
		case first == f:
			f.s.m[f.key] = f.next
		default:
			for p := first; p != nil; p = p.next {
				if p.next == f {
					p.next = f.next
					break
				}
			}
		}
	}
	f.s.mu.Unlock()
	return ws, stale
}

// Done ends the flight with reply: every waiter, leader included, gets it.
// It implements Waiter for the leader's upstream call.
func (f *Flight) Done(reply []byte) {
	for _, w := range f.Finish() {
		w.Done(reply)
	}
}

// Finish ends the flight and returns its waiters, leader first, for the
// caller to answer each (as Done does, with w.Done).
func (f *Flight) Finish() []Waiter {
	ws, _ := f.finish()
	return ws
}

// Answer ends a flight whose upstream answered at once: the leader (the
// first waiter) takes reply from the caller's return path, the followers
// that joined meanwhile get it through Done. It reports whether a write
// detached the flight meanwhile.
func (f *Flight) Answer(reply []byte) (stale bool) {
	ws, stale := f.finish()
	for _, w := range ws[1:] {
		w.Done(reply)
	}
	return stale
}

// Stale reports whether a write detached the flight; the caller checks it
// before caching the reply.
func (f *Flight) Stale() bool {
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	return f.stale
}
