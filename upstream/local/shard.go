package local

import (
	"math"
	"sync"
	"unsafe"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// shard owns the items whose key hashes to it, an LRU list over them and
// its share of the memory budget. Everything in it is guarded by mu.
type shard struct {
	mu     sync.Mutex
	lru    *simplelru.LRU[string, *item]
	bytes  int64 // sum of item sizes, memcached's "bytes"
	budget int64 // bytes may not exceed this after a store
	st     counters
	// Keeps two shards' locks and counters off one cache line.
	_ [64]byte
}

func newShard(budget int64) *shard {
	// The LRU's count limit is never reached: the shard evicts by bytes.
	l, err := simplelru.NewLRU[string, *item](math.MaxInt, nil)
	if err != nil {
		panic(err) // only for a non-positive size
	}
	return &shard{lru: l, budget: budget}
}

// keyView returns a string sharing k's bytes, without copying. It is only
// ever passed to LRU lookups (Get, Peek, Remove of a present key), which
// hash and compare it during the call and keep no reference; it must never
// be stored as a key, since k is a view into a connection's read buffer
// that is overwritten after Serve returns. New keys are stored as
// string(k), a copy (see link).
func keyView(k []byte) string { return unsafe.String(unsafe.SliceData(k), len(k)) }

// find returns the live item for key, moving it to the LRU front, or nil.
// Like memcached's do_item_get, which every keyed command goes through, it
// unlinks an item that it finds flushed or expired and counts it as
// get_flushed or get_expired, whatever the command.
func (sh *shard) find(key string, now int64, m *flushMark) *item {
	it, ok := sh.lru.Get(key)
	if !ok {
		return nil
	}
	switch {
	case m.flushed(it, now):
		sh.st.getFlushed++
	case it.expired(now):
		sh.st.getExpired++
	default:
		return it
	}
	sh.unlink(key, it)
	return nil
}

func (sh *shard) unlink(key string, it *item) {
	sh.lru.Remove(key)
	sh.bytes -= it.size
}

// link stores it under a new key (absent from the shard), then evicts.
func (sh *shard) link(key []byte, it *item, now int64, m *flushMark) {
	sh.lru.Add(string(key), it)
	sh.bytes += it.size
	sh.st.totalItems++
	sh.evict(now, m)
}

// relink replaces the contents of old, the live item of its key, with nw in
// place, keeping its LRU entry; memcached links a new item, so this counts
// in total_items.
func (sh *shard) relink(old *item, nw item, now int64, m *flushMark) {
	sh.bytes += nw.size - old.size
	*old = nw
	sh.st.totalItems++
	sh.evict(now, m)
}

// evict drops the least recently used items until the shard fits its
// budget. Callers ensure the item just stored (at the front) fits alone,
// so it is never the one dropped. Dead items dropped count as reclaimed,
// live ones as evictions, as memcached counts its LRU tail pulls.
func (sh *shard) evict(now int64, m *flushMark) {
	for sh.bytes > sh.budget {
		_, it, ok := sh.lru.RemoveOldest()
		if !ok {
			return
		}
		sh.bytes -= it.size
		if m.flushed(it, now) || it.expired(now) {
			sh.st.reclaimed++
		} else {
			sh.st.evictions++
		}
	}
}
