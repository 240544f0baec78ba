package local

import "github.com/fae-sidecar/fae/proto/memcache"

// delete serves delete: DELETED or NOT_FOUND (also for an expired or
// flushed item, which the lookup unlinks). A server's unlink after a
// refused set (memcache.OriginUnlink) counts nothing, as in memcached.
func (s *Store) delete(req *memcache.Request, out []byte, now int64) []byte {
	key := keyView(req.Key())
	sh := s.shardOf(req.Key())
	counted := req.Origin != memcache.OriginUnlink
	sh.mu.Lock()
	line := memcache.ReplyNotFound
	if it := sh.find(key, now, s.flush.Load()); it != nil {
		sh.unlink(key, it)
		if counted {
			sh.st.deleteHits++
		}
		line = memcache.ReplyDeleted
	} else if counted {
		sh.st.deleteMisses++
	}
	sh.mu.Unlock()
	return reply(out, req, line)
}

// touch serves touch: it sets a new exptime and answers TOUCHED, or
// NOT_FOUND. Unlike a store it keeps the CAS unique, as memcached does.
func (s *Store) touch(req *memcache.Request, out []byte, now int64) []byte {
	exp := s.clock.realtime(req.Exptime, now)
	sh := s.shardOf(req.Key())
	sh.mu.Lock()
	sh.st.cmdTouch++
	line := memcache.ReplyNotFound
	if it := sh.find(keyView(req.Key()), now, s.flush.Load()); it != nil {
		it.exp = exp
		sh.st.touchHits++
		line = memcache.ReplyTouched
	} else {
		sh.st.touchMisses++
	}
	sh.mu.Unlock()
	return reply(out, req, line)
}
