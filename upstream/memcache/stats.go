package memcache

import (
	"sync/atomic"

	"github.com/fae-sidecar/fae/proto/memcache"
)

// counters are the pool's statistics, bumped by atomic adds on fields (never
// looked up by name on the request path). Names follow memcached's where
// memcached has one.
type counters struct {
	requests atomic.Uint64 // requests served (every Serve call)
	errors   atomic.Uint64 // requests or parts answered with SERVER_ERROR by the pool
	rejected atomic.Uint64 // requests refused because a queue was full

	cmdGet       atomic.Uint64 // keys asked by get, gets
	cmdSet       atomic.Uint64 // set, add, replace, append, prepend, cas
	cmdTouch     atomic.Uint64 // touch, and keys asked by gat, gats
	cmdFlush     atomic.Uint64
	getHits      atomic.Uint64
	getMisses    atomic.Uint64
	deleteHits   atomic.Uint64
	deleteMisses atomic.Uint64
	incrHits     atomic.Uint64
	incrMisses   atomic.Uint64
	decrHits     atomic.Uint64
	decrMisses   atomic.Uint64
	touchHits    atomic.Uint64
	touchMisses  atomic.Uint64
}

// statOf is the classic command whose counters req bumps: its own, or
// for a meta command the one that does what it does (mg with T touches).
// A server's unlink after a refused set bumps none (CmdUnknown), as
// memcached counts nothing for it.
func statOf(req *memcache.Request) memcache.Command {
	if req.Origin == memcache.OriginUnlink {
		return memcache.CmdUnknown
	}
	switch req.Cmd {
	case memcache.CmdMetaGet:
		if req.Meta.Has('T') {
			return memcache.CmdTouch
		}
		return memcache.CmdGet
	case memcache.CmdMetaSet:
		return memcache.CmdSet
	case memcache.CmdMetaDelete:
		return memcache.CmdDelete
	case memcache.CmdMetaArith:
		if req.Meta.Mode == 'D' || req.Meta.Mode == '-' {
			return memcache.CmdDecr
		}
		return memcache.CmdIncr
	}
	return req.Cmd
}

// countServe counts a request as it arrives (an mg, by its reply: see
// countMeta).
func (s *counters) countServe(req *memcache.Request) {
	s.requests.Add(1)
	if req.Cmd == memcache.CmdMetaGet {
		return
	}
	switch cmd := statOf(req); {
	case cmd == memcache.CmdGat, cmd == memcache.CmdGats:
		s.cmdTouch.Add(uint64(len(req.Keys))) // and not cmd_get, as in memcached
	case cmd.IsRetrieval():
		s.cmdGet.Add(uint64(len(req.Keys)))
	case cmd.IsStorage():
		s.cmdSet.Add(1)
	case cmd == memcache.CmdTouch:
		s.cmdTouch.Add(1)
	case cmd == memcache.CmdFlushAll:
		s.cmdFlush.Add(1)
	}
}

// countReply counts hits and misses from a server's reply to o, a request
// for o.nkeys keys whose counters are o.stat's (statOf). Only the first
// byte of a line reply is looked at.
func (s *counters) countReply(o *op, reply []byte, f *memcache.Frame) {
	stat := o.stat
	if f.Kind == memcache.FrameValues {
		if f.End {
			h, m := &s.getHits, &s.getMisses
			if stat == memcache.CmdGat || stat == memcache.CmdGats {
				h, m = &s.touchHits, &s.touchMisses
			}
			h.Add(uint64(f.Hits))
			m.Add(uint64(o.nkeys - f.Hits))
		}
		return
	}
	var c byte
	if len(reply) > 0 {
		c = reply[0]
	}
	switch {
	case f.Kind == memcache.FrameMetaFenced:
		// An ma with q and N, the one fenced request (reply unfenced):
		// memcached answers it only when it creates the counter, which it
		// counts as neither a hit nor a miss, and says nothing when it
		// finds the counter, a hit.
		switch {
		case len(reply) == 0:
			s.countMeta(stat, o.origin, 'H')
		case c != 'H' && c != 'V':
			s.countMeta(stat, o.origin, c)
		}
		return
	case f.Kind != memcache.FrameLine:
		s.countMeta(stat, o.origin, c)
		return
	}
	switch stat {
	case memcache.CmdDelete:
		bump(c, 'D', &s.deleteHits, &s.deleteMisses) // DELETED / NOT_FOUND
	case memcache.CmdIncr:
		bump(c, '0', &s.incrHits, &s.incrMisses) // a number / NOT_FOUND
	case memcache.CmdDecr:
		bump(c, '0', &s.decrHits, &s.decrMisses)
	case memcache.CmdTouch:
		bump(c, 'T', &s.touchHits, &s.touchMisses) // TOUCHED / NOT_FOUND
	}
}

// countMeta counts hits and misses from the first byte of a meta reply:
// HD or VA is a hit; NF, EN (and EX: md, as memcached counts it, but for
// a binary delete's, which memcached counts as neither) a miss. An ma's
// EX counts as neither, as in memcached. An mg counts as a get, or with T
// as a touch when it hits (as in memcached). An ma that created its item
// counts as a hit, as the reply does not tell (but with q and N, see
// countReply).
func (s *counters) countMeta(stat memcache.Command, origin memcache.Origin, c byte) {
	hit, miss := c == 'H' || c == 'V', c == 'N' || c == 'E'
	var h, m *atomic.Uint64
	switch stat {
	case memcache.CmdGet, memcache.CmdTouch:
		h, m = &s.getHits, &s.getMisses
		switch {
		case hit && stat == memcache.CmdTouch:
			s.cmdTouch.Add(1)
			h = &s.touchHits
		case hit || miss:
			s.cmdGet.Add(1)
		}
	case memcache.CmdDelete:
		h, m = &s.deleteHits, &s.deleteMisses
		if origin == memcache.OriginBinary {
			miss = c == 'N'
		}
	case memcache.CmdIncr:
		h, m = &s.incrHits, &s.incrMisses
		miss = c == 'N' && !hit
	case memcache.CmdDecr:
		h, m = &s.decrHits, &s.decrMisses
		miss = c == 'N' && !hit
	default:
		return
	}
	switch {
	case hit:
		h.Add(1)
	case miss:
		m.Add(1)
	}
}

// bump adds to hit when c is hitByte (or any digit, for '0'), to miss when
// c is 'N' (NOT_FOUND); error lines count as neither.
func bump(c, hitByte byte, hit, miss *atomic.Uint64) {
	switch {
	case c == hitByte, hitByte == '0' && c >= '0' && c <= '9':
		hit.Add(1)
	case c == 'N':
		miss.Add(1)
	}
}

// report hands every counter to add, in a fixed order, with the
// pipeline's connections cut because a reply was late (timeouts) and
// opened after the first (reconnects).
func (s *counters) report(add func(string, uint64), timeouts, reconnects uint64) {
	add("requests", s.requests.Load())
	add("errors", s.errors.Load())
	add("timeouts", timeouts)
	add("reconnects", reconnects)
	add("rejected", s.rejected.Load())
	add("cmd_get", s.cmdGet.Load())
	add("cmd_set", s.cmdSet.Load())
	add("cmd_touch", s.cmdTouch.Load())
	add("cmd_flush", s.cmdFlush.Load())
	add("get_hits", s.getHits.Load())
	add("get_misses", s.getMisses.Load())
	add("delete_hits", s.deleteHits.Load())
	add("delete_misses", s.deleteMisses.Load())
	add("incr_hits", s.incrHits.Load())
	add("incr_misses", s.incrMisses.Load())
	add("decr_hits", s.decrHits.Load())
	add("decr_misses", s.decrMisses.Load())
	add("touch_hits", s.touchHits.Load())
	add("touch_misses", s.touchMisses.Load())
}
