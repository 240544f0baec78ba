// Package coalesce merges concurrent reads of one key into one upstream call:
// the first reader leads, later readers of the same key wait for its reply.
// A write to the key detaches the flight, so a read that starts after the
// write never gets the reply of a read that started before it.
package coalesce

import (
	"bytes"
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
// It is safe for concurrent use. Flights are recycled (see Flight.Release),
// so a read that leads allocates nothing once the group has warmed up.
type Group struct {
	seed   maphash.Seed
	shards [numShards]shard
	merged atomic.Uint64
}

// shard maps a key's hash to the first flight of that hash; the flights of
// one hash (the key's flights of other lanes, and keys whose hashes
// collide) are chained through Flight.next.
type shard struct {
	mu   sync.Mutex
	m    map[uint64]*Flight
	free []*Flight // released flights, for reuse
}

// maxFree bounds a shard's free list.
const maxFree = 64

// Flight is one upstream read and the readers waiting for it.
type Flight struct {
	// Owner is the caller's: it survives the flight's reuse, so a caller
	// can keep its per-flight state there (see Release).
	Owner any

	s       *shard
	hash    uint64
	key     []byte   // a copy, owned by the flight
	lane    any      // the leader's lane (see JoinLane)
	next    *Flight  // guarded by s.mu: the next flight of the same hash
	waiters []Waiter // guarded by s.mu; emptied once done
	stale   bool     // guarded by s.mu: a write detached the flight
	linked  bool     // guarded by s.mu: reachable from s.m
}

// New returns an empty group.
func New() *Group {
	g := &Group{seed: maphash.MakeSeed()}
	for i := range g.shards {
		g.shards[i].m = map[uint64]*Flight{}
	}
	return g
}

func (g *Group) locate(key []byte) (*shard, uint64) {
	h := maphash.Bytes(g.seed, key)
	return &g.shards[h%numShards], h
}

// Join adds w to the flight of key. It returns the flight and true when the
// caller leads: it must start the read with the flight as its waiter and
// finish it with Done, or Finish or Answer and then Release. A follower
// just waits for w.Done.
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
	s, h := g.locate(key)
	return g.join(s, h, key, w, lane, free)
}

func (g *Group) join(s *shard, h uint64, key []byte, w Waiter, lane any, free bool) (*Flight, bool) {
	s.mu.Lock()
	first := s.m[h]
	for f := first; f != nil; f = f.next {
		if (f.lane == lane || free) && bytes.Equal(f.key, key) {
			f.waiters = append(f.waiters, w)
			s.mu.Unlock()
			g.merged.Add(1)
			return f, false
		}
	}
	var f *Flight
	if n := len(s.free); n > 0 {
		f, s.free = s.free[n-1], s.free[:n-1]
	} else {
		f = &Flight{}
	}
	f.s, f.hash, f.lane, f.stale, f.linked = s, h, lane, false, true
	f.key = append(f.key[:0], key...)
	f.waiters = append(f.waiters[:0], w)
	if first != nil {
		f.next, first.next = first.next, f
	} else {
		f.next = nil
		s.m[h] = f
	}
	s.mu.Unlock()
	return f, true
}

// Forget detaches the flights of key, if any: they were started before a
// write to key (or, called when the write's reply arrives, before the write
// was answered), so later readers must not join them, nor may their replies
// be cached.
func (g *Group) Forget(key []byte) {
	s, h := g.locate(key)
	s.forget(h, key)
}

func (s *shard) forget(h uint64, key []byte) {
	s.mu.Lock()
	for f := s.m[h]; f != nil; {
		next := f.next
		if bytes.Equal(f.key, key) {
			f.stale = true
			s.unlink(f)
		}
		f = next
	}
	s.mu.Unlock()
}

// unlink takes f out of its hash's chain. s.mu must be held.
func (s *shard) unlink(f *Flight) {
	if !f.linked {
		return
	}
	f.linked = false
	first := s.m[f.hash]
	switch {
	case first == f && f.next == nil:
		delete(s.m, f.hash)
	case first == f:
		s.m[f.hash] = f.next
	default:
		for p := first; p != nil; p = p.next {
			if p.next == f {
				p.next = f.next
				break
			}
		}
	}
	f.next = nil
}

// Merged counts the reads that joined another's flight.
func (g *Group) Merged() uint64 { return g.merged.Load() }

// finish ends the flight and returns its waiters and whether it went stale.
// The waiters stay the flight's until Release.
func (f *Flight) finish() ([]Waiter, bool) {
	f.s.mu.Lock()
	ws, stale := f.waiters, f.stale
	f.waiters = f.waiters[:0]
	f.s.unlink(f)
	f.s.mu.Unlock()
	return ws, stale
}

// Key returns the flight's copy of its key, valid until Release.
func (f *Flight) Key() []byte { return f.key }

// Done ends the flight with reply: every waiter, leader included, gets it.
// It implements Waiter for the leader's upstream call, and releases the
// flight.
func (f *Flight) Done(reply []byte) {
	for _, w := range f.Finish() {
		w.Done(reply)
	}
	f.Release()
}

// Finish ends the flight and returns its waiters, leader first, for the
// caller to answer each (as Done does, with w.Done) before Release.
func (f *Flight) Finish() []Waiter {
	ws, _ := f.finish()
	return ws
}

// Answer ends a flight whose upstream answered at once: the leader (the
// first waiter) takes reply from the caller's return path, the followers
// that joined meanwhile get it through Done. It reports whether a write
// detached the flight meanwhile. The caller then releases the flight.
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

// Release hands a finished flight back to its group for reuse, Owner
// included: the caller must not touch it, its key or the waiters Finish
// returned afterwards.
func (f *Flight) Release() {
	clear(f.waiters[:cap(f.waiters)])
	f.waiters, f.lane = f.waiters[:0], nil
	if cap(f.key) > 1024 {
		f.key = nil
	}
	s := f.s
	s.mu.Lock()
	if len(s.free) < maxFree {
		s.free = append(s.free, f)
	}
	s.mu.Unlock()
}
