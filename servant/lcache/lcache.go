package lcache

import (
	"errors"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// EntryOverhead approximates the bytes an entry costs beyond its key and
// value: the LRU's list element and map slot, and the slice header.
const EntryOverhead = 128

// MinBytes is the smallest byte budget New accepts.
const MinBytes = 64 << 10

// maxShards: more shards than cores only spread the budget thinner.
const maxShards = 16

// ErrTooLarge is returned by Set when an entry (key, value and overhead) is
// larger than a shard's share of the byte budget; nothing is stored.
var ErrTooLarge = errors.New("lcache: entry larger than the cache allows")

// Cache maps string keys to byte values. Safe for concurrent use.
type Cache struct {
	seed   maphash.Seed
	shards []shard

	hits, misses, evictions atomic.Uint64
}

type shard struct {
	mu    sync.Mutex
	lru   *simplelru.LRU[string, []byte]
	bytes int64
	max   int64
	_     [64]byte // keep shards' locks off one cache line
}

// New returns an empty cache holding at most maxBytes (at least MinBytes).
// The largest entry it takes is a shard's share: maxBytes/16 from 16MiB up,
// 1MiB below that (all of maxBytes below 1MiB).
func New(maxBytes int64) *Cache {
	maxBytes = max(maxBytes, MinBytes)
	n := int(min(max(maxBytes>>20, 1), maxShards))
	c := &Cache{seed: maphash.MakeSeed(), shards: make([]shard, n)}
	for i := range c.shards {
		s := &c.shards[i]
		s.max = maxBytes / int64(n)
		// Bounded in bytes by evicting here; the count bound only has
		// to be out of the way.
		s.lru, _ = simplelru.NewLRU[string, []byte](1<<31-1, nil)
	}
	return c
}

func (c *Cache) shard(key string) *shard {
	return &c.shards[maphash.String(c.seed, key)%uint64(len(c.shards))]
}

func size(key string, value []byte) int64 {
	return int64(len(key) + len(value) + EntryOverhead)
}

// Get returns key's value and true, or nil and false. The value is the
// cache's own: the caller must not modify it.
func (c *Cache) Get(key string) ([]byte, bool) {
	s := c.shard(key)
	s.mu.Lock()
	v, ok := s.lru.Get(key)
	s.mu.Unlock()
	if !ok {
		c.misses.Add(1)
		return nil, false
	}
	c.hits.Add(1)
	return v, true
}

// Set stores a copy of key and value, evicting the least recently used
// entries of key's shard until it fits. The caller may reuse both
// afterwards.
func (c *Cache) Set(key string, value []byte) error {
	s := c.shard(key)
	n := size(key, value)
	if n > s.max {
		return ErrTooLarge
	}
	// One allocation holds both: the key is a string view of its front.
	buf := make([]byte, len(key)+len(value))
	copy(buf, key)
	copy(buf[len(key):], value)
	k := unsafe.String(unsafe.SliceData(buf), len(key))
	v := buf[len(key):len(buf):len(buf)]
	s.mu.Lock()
	if old, ok := s.lru.Peek(key); ok {
		s.lru.Remove(key)
		s.bytes -= size(key, old)
	}
	s.lru.Add(k, v)
	s.bytes += n
	var evicted uint64
	for s.bytes > s.max {
		oldK, oldV, _ := s.lru.RemoveOldest()
		s.bytes -= size(oldK, oldV)
		evicted++
	}
	s.mu.Unlock()
	if evicted > 0 {
		c.evictions.Add(evicted)
	}
	return nil
}

// Del removes key; it reports whether key was there.
func (c *Cache) Del(key string) bool {
	s := c.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.lru.Peek(key)
	if ok {
		s.lru.Remove(key)
		s.bytes -= size(key, v)
	}
	return ok
}

// Stats are a cache's counters and size.
type Stats struct {
	Hits, Misses, Evictions uint64
	Entries                 int
	Bytes                   int64 // as counted against the budget
}

// Stats returns the cache's counters and size.
func (c *Cache) Stats() Stats {
	st := Stats{Hits: c.hits.Load(), Misses: c.misses.Load(), Evictions: c.evictions.Load()}
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		st.Entries += s.lru.Len()
		st.Bytes += s.bytes
		s.mu.Unlock()
	}
	return st
}
