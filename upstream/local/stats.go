package local

// counters are one shard's share of the statistics, bumped under the
// shard's lock and summed by Stats.
type counters struct {
	cmdGet, cmdSet, cmdTouch                   uint64
	getHits, getMisses, getExpired, getFlushed uint64
	deleteMisses, deleteHits                   uint64
	incrMisses, incrHits, decrMisses, decrHits uint64
	casMisses, casHits, casBadval              uint64
	touchHits, touchMisses                     uint64
	storeTooLarge, storeNoMemory               uint64
	totalItems, evictions, reclaimed           uint64
}

func (c *counters) add(o *counters) {
	c.cmdGet += o.cmdGet
	c.cmdSet += o.cmdSet
	c.cmdTouch += o.cmdTouch
	c.getHits += o.getHits
	c.getMisses += o.getMisses
	c.getExpired += o.getExpired
	c.getFlushed += o.getFlushed
	c.deleteMisses += o.deleteMisses
	c.deleteHits += o.deleteHits
	c.incrMisses += o.incrMisses
	c.incrHits += o.incrHits
	c.decrMisses += o.decrMisses
	c.decrHits += o.decrHits
	c.casMisses += o.casMisses
	c.casHits += o.casHits
	c.casBadval += o.casBadval
	c.touchHits += o.touchHits
	c.touchMisses += o.touchMisses
	c.storeTooLarge += o.storeTooLarge
	c.storeNoMemory += o.storeNoMemory
	c.totalItems += o.totalItems
	c.evictions += o.evictions
	c.reclaimed += o.reclaimed
}

// Stats reports the store's statistics under memcached's names, in the
// order memcached's "stats" lists them. curr_items and bytes include
// expired and flushed items not yet reclaimed, as in memcached: removal is
// lazy. Each shard is read under its lock; the sums are not one snapshot.
func (s *Store) Stats(add func(name string, value uint64)) {
	var c counters
	var items, bytes uint64
	for _, sh := range s.shards {
		sh.mu.Lock()
		c.add(&sh.st)
		items += uint64(sh.lru.Len())
		bytes += uint64(sh.bytes)
		sh.mu.Unlock()
	}
	add("cmd_get", c.cmdGet)
	add("cmd_set", c.cmdSet)
	add("cmd_flush", s.cmdFlush.Load())
	add("cmd_touch", c.cmdTouch)
	add("get_hits", c.getHits)
	add("get_misses", c.getMisses)
	add("get_expired", c.getExpired)
	add("get_flushed", c.getFlushed)
	add("delete_misses", c.deleteMisses)
	add("delete_hits", c.deleteHits)
	add("incr_misses", c.incrMisses)
	add("incr_hits", c.incrHits)
	add("decr_misses", c.decrMisses)
	add("decr_hits", c.decrHits)
	add("cas_misses", c.casMisses)
	add("cas_hits", c.casHits)
	add("cas_badval", c.casBadval)
	add("touch_hits", c.touchHits)
	add("touch_misses", c.touchMisses)
	add("store_too_large", c.storeTooLarge)
	add("store_no_memory", c.storeNoMemory)
	add("limit_maxbytes", uint64(s.maxBytes))
	add("bytes", bytes)
	add("curr_items", items)
	add("total_items", c.totalItems)
	add("evictions", c.evictions)
	add("reclaimed", c.reclaimed)
}
