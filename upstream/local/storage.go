package local

import "github.com/fae-sidecar/fae/proto/memcache"

// store serves set, add, replace and cas. Every such request that fits
// counts in cmd_set, whatever its outcome. An expired or flushed item counts
// as absent: add succeeds over it, replace and cas do not.
func (s *Store) store(req *memcache.Request, out []byte, now int64) []byte {
	key := req.Key()
	sh := s.shardOf(key)
	size := itemSize(len(key), len(req.Data), req.Flags)
	if line := s.fits(sh, size); line != "" {
		return s.refuse(req, out, now, sh, line)
	}
	// Copy outside the lock: req.Data is a view into a network buffer.
	value := make([]byte, len(req.Data))
	copy(value, req.Data)
	exp := s.clock.realtime(req.Exptime, now)
	m := s.flush.Load()

	sh.mu.Lock()
	sh.st.cmdSet++
	old := sh.find(keyView(key), now, m)
	line := memcache.ReplyStored
	switch req.Cmd {
	case memcache.CmdAdd:
		if old != nil {
			line = memcache.ReplyNotStored // find moved it to the LRU front, as memcached does
		}
	case memcache.CmdReplace:
		if old == nil {
			line = memcache.ReplyNotStored
		}
	case memcache.CmdCas:
		switch {
		case old == nil:
			sh.st.casMisses++
			line = memcache.ReplyNotFound
		case old.cas != req.Cas:
			sh.st.casBadval++
			line = memcache.ReplyExists
		default:
			sh.st.casHits++
		}
	}
	if line == memcache.ReplyStored {
		nw := item{value: value, flags: req.Flags, exp: exp, time: now, cas: s.nextCas(), size: size}
		if old != nil {
			sh.relink(old, nw, now, m)
		} else {
			p := nw // allocated here only, not on the relink path
			sh.link(key, &p, now, m)
		}
	}
	sh.mu.Unlock()
	return reply(out, req, line)
}

// concat serves append and prepend. The item keeps its flags and exptime
// (those sent are ignored) and gets a new CAS. A missing item, or a result
// larger than an item may be, is NOT_STORED: memcached fails the allocation
// of the combined item and answers NOT_STORED, not SERVER_ERROR.
func (s *Store) concat(req *memcache.Request, out []byte, now int64) []byte {
	key := req.Key()
	sh := s.shardOf(key)
	if line := s.fits(sh, itemSize(len(key), len(req.Data), req.Flags)); line != "" {
		return s.refuse(req, out, now, sh, line)
	}
	m := s.flush.Load()

	sh.mu.Lock()
	sh.st.cmdSet++
	old := sh.find(keyView(key), now, m)
	line := memcache.ReplyNotStored
	if old != nil {
		n := len(old.value) + len(req.Data)
		if size := itemSize(len(key), n, old.flags); s.fits(sh, size) == "" {
			value := make([]byte, 0, n)
			if req.Cmd == memcache.CmdAppend {
				value = append(append(value, old.value...), req.Data...)
			} else {
				value = append(append(value, req.Data...), old.value...)
			}
			nw := item{value: value, flags: old.flags, exp: old.exp, time: now, cas: s.nextCas(), size: size}
			sh.relink(old, nw, now, m)
			line = memcache.ReplyStored
		}
	}
	sh.mu.Unlock()
	return reply(out, req, line)
}

// fits returns "" when an item of size may be stored in sh, else the error
// line memcached answers when it cannot allocate it: too large for any slab
// class, or larger than the memory there is.
func (s *Store) fits(sh *shard, size int64) string {
	switch {
	case size > s.maxItemSize:
		return memcache.ReplyTooLarge
	case size > sh.budget:
		return memcache.ReplyOutOfMemory
	}
	return ""
}

// refuse answers a storage command whose item cannot be allocated. Such a
// command does not count in cmd_set. A refused set also unlinks the key's
// current item: memcached would rather lose the value than keep serving
// the one the client just tried to overwrite.
func (s *Store) refuse(req *memcache.Request, out []byte, now int64, sh *shard, line string) []byte {
	sh.mu.Lock()
	if line == memcache.ReplyTooLarge {
		sh.st.storeTooLarge++
	} else {
		sh.st.storeNoMemory++
	}
	if req.Cmd == memcache.CmdSet {
		key := keyView(req.Key())
		if it := sh.find(key, now, s.flush.Load()); it != nil {
			sh.unlink(key, it)
		}
	}
	sh.mu.Unlock()
	return reply(out, req, line)
}
