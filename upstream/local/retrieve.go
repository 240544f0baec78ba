package local

import "github.com/fae-sidecar/fae/proto/memcache"

// retrieve serves get, gets, gat and gats. Each key is looked up under its
// shard's lock; the value is appended after the lock is released, which is
// safe because stored values are never modified in place (see item).
//
// Counting follows memcached 1.6.18: get and gets count cmd_get and
// get_hits or get_misses per key; gat and gats count only cmd_touch and
// touch_hits or touch_misses per key, not cmd_get.
func (s *Store) retrieve(req *memcache.Request, out []byte, now int64) []byte {
	touch := req.Cmd == memcache.CmdGat || req.Cmd == memcache.CmdGats
	withCas := req.Cmd == memcache.CmdGets || req.Cmd == memcache.CmdGats
	var exp int64
	if touch {
		exp = s.clock.realtime(req.Exptime, now)
	}
	m := s.flush.Load()
	for _, key := range req.Keys {
		sh := s.shardOf(key)
		sh.mu.Lock()
		it := sh.find(keyView(key), now, m)
		if it == nil {
			if touch {
				sh.st.cmdTouch++
				sh.st.touchMisses++
			} else {
				sh.st.cmdGet++
				sh.st.getMisses++
			}
			sh.mu.Unlock()
			continue
		}
		if touch {
			// gat returns the value even when the new exptime is already
			// past: memcached touches, then replies with what it found.
			it.exp = exp
			sh.st.cmdTouch++
			sh.st.touchHits++
		} else {
			sh.st.cmdGet++
			sh.st.getHits++
		}
		it.fetched = true // memcached's ITEM_FETCHED, read by mg h and me
		value, flags, cas := it.value, it.flags, it.cas
		sh.mu.Unlock()
		out = memcache.AppendValue(out, key, flags, value, cas, withCas)
	}
	return append(out, memcache.ReplyEnd...)
}
