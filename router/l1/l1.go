// Package l1 is a small read cache in front of an upstream pool: sharded
// LRUs (hashicorp/golang-lru) bounded in bytes, each entry living at most a
// fixed TTL. It holds whole reply blocks keyed by memcached key.
//
// Staleness: an entry can be up to TTL older than the backend. Writes that go
// through this sidecar delete the key's entry, so this sidecar's own clients
// read their writes; writes by other clients or other sidecars are seen only
// when the entry expires.
package l1

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// entryOverhead approximates the bytes an entry costs beyond key and value.
const entryOverhead = 96

// Config sizes a Cache.
type Config struct {
	MaxBytes int64
	TTL      time.Duration
	Shards   int              // default 16
	Now      func() time.Time // nil: time.Now
}

// Cache is safe for concurrent use.
type Cache struct {
	seed   maphash.Seed
	shards []*shard
	ttl    int64
	now    func() time.Time

	hits, misses, evictions atomic.Uint64
}

type shard struct {
	mu    sync.Mutex
	lru   *simplelru.LRU[string, entry]
	bytes int64
	max   int64
}

type entry struct {
	block   []byte // immutable once stored
	expires int64  // unix nanos
}

// New returns an empty cache.
func New(cfg Config) *Cache {
	if cfg.Shards <= 0 {
		cfg.Shards = 16
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := &Cache{seed: maphash.MakeSeed(), ttl: int64(cfg.TTL), now: cfg.Now}
	for range cfg.Shards {
		s := &shard{max: cfg.MaxBytes / int64(cfg.Shards)}
		// Bounded in bytes by evicting ourselves; the count bound only
		// has to be out of the way.
		s.lru, _ = simplelru.NewLRU[string, entry](1<<30, nil)
		c.shards = append(c.shards, s)
	}
	return c
}

func (c *Cache) shard(key []byte) *shard {
	return c.shards[maphash.Bytes(c.seed, key)%uint64(len(c.shards))]
}

// view is key as a string without copying, for look-ups only: the map does
// not keep the string it is asked about.
func view(key []byte) string { return unsafe.String(unsafe.SliceData(key), len(key)) }

// Get appends the cached block of key to out.
func (c *Cache) Get(key, out []byte) ([]byte, bool) {
	s := c.shard(key)
	now := c.now().UnixNano()
	s.mu.Lock()
	e, ok := s.lru.Get(view(key))
	if ok && now >= e.expires {
		s.remove(view(key), e)
		ok = false
	}
	s.mu.Unlock()
	if !ok {
		c.misses.Add(1)
		return out, false
	}
	c.hits.Add(1)
	return append(out, e.block...), true
}

// Set caches block for key for the cache's TTL.
func (c *Cache) Set(key, block []byte) {
	size := int64(len(key) + len(block) + entryOverhead)
	s := c.shard(key)
	if size > s.max {
		return
	}
	e := entry{block: append([]byte(nil), block...), expires: c.now().UnixNano() + c.ttl}
	k := string(key)
	s.mu.Lock()
	if old, ok := s.lru.Peek(k); ok {
		s.remove(k, old)
	}
	s.lru.Add(k, e)
	s.bytes += size
	for s.bytes > s.max {
		oldK, oldE, ok := s.lru.GetOldest()
		if !ok {
			break
		}
		s.remove(oldK, oldE)
		c.evictions.Add(1)
	}
	s.mu.Unlock()
}

// Delete drops key's entry.
func (c *Cache) Delete(key []byte) {
	s := c.shard(key)
	s.mu.Lock()
	if e, ok := s.lru.Peek(view(key)); ok {
		s.remove(view(key), e)
	}
	s.mu.Unlock()
}

// remove deletes k; the caller holds s.mu.
func (s *shard) remove(k string, e entry) {
	s.lru.Remove(k)
	s.bytes -= int64(len(k) + len(e.block) + entryOverhead)
}

// Stats returns the hit, miss and eviction counts.
func (c *Cache) Stats() (hits, misses, evictions uint64) {
	return c.hits.Load(), c.misses.Load(), c.evictions.Load()
}

// Bytes is the memory the entries account for.
func (c *Cache) Bytes() int64 {
	var n int64
	for _, s := range c.shards {
		s.mu.Lock()
		n += s.bytes
		s.mu.Unlock()
	}
	return n
}

// Purge drops every entry (flush_all through this sidecar).
func (c *Cache) Purge() {
	for _, s := range c.shards {
		s.mu.Lock()
		s.lru.Purge()
		s.bytes = 0
		s.mu.Unlock()
	}
}
