package local

import "github.com/fae-sidecar/fae/proto/memcache"

// flushMark is the state flush_all leaves behind (memcached's
// settings.oldest_live and oldest_cas). Items are not removed by flush_all:
// each lookup asks the mark whether the item it found is flushed, and
// unlinks it then (get_flushed). A mark is immutable; flush_all swaps in a
// new one so that readers see both fields of the same flush.
type flushMark struct {
	// oldestLive is the last relative second whose items are flushed; 0
	// means no flush is in force.
	oldestLive int64
	// oldestCas flushes items with a smaller CAS, which catches the items
	// stored during the second of an immediate flush.
	oldestCas uint64
}

// flushed is memcached's item_is_flushed. Until the flush moment arrives
// nothing is flushed; from then on, items linked up to oldestLive are.
func (m *flushMark) flushed(it *item, now int64) bool {
	if m.oldestLive == 0 || m.oldestLive > now {
		return false
	}
	return it.time <= m.oldestLive || (m.oldestCas != 0 && it.cas != 0 && it.cas < m.oldestCas)
}

// flushAll serves flush_all [delay]. As in memcached, a delay d > 0 makes
// items stored up to the second now+d-1 invisible from that second on
// (so "flush_all 1" also hides what is stored in the rest of the current
// second); no delay, 0 or a negative delay flushes at once, and a delay in
// Unix time before the server started disables any pending flush. A new
// flush_all replaces the previous mark, so a delayed flush issued after an
// immediate one makes the not yet reclaimed items visible again: memcached
// does the same.
func (s *Store) flushAll(req *memcache.Request, out []byte, now int64) []byte {
	s.cmdFlush.Add(1)
	newOldest := now
	if req.Exptime > 0 {
		newOldest = s.clock.realtime(req.Exptime, now)
	}
	s.flushMu.Lock()
	m := &flushMark{oldestLive: newOldest - 1, oldestCas: s.flush.Load().oldestCas}
	if m.oldestLive <= now {
		// Why a CAS is consumed: memcached takes a fresh CAS id as the
		// boundary, so the CAS of the next store skips one.
		m.oldestCas = s.nextCas()
	}
	s.flush.Store(m)
	s.flushMu.Unlock()
	if req.NoReply {
		return out
	}
	return append(out, memcache.ReplyOK...)
}
