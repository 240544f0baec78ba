package local

import (
	"strconv"

	"github.com/fae-sidecar/fae/proto/memcache"
)

// arith serves incr and decr. incr wraps at 2^64, decr stops at 0. Hits
// and misses are counted per command; a non-numeric value counts as
// neither, and every outcome, error included, is silent under noreply.
//
// When the new number is no longer than the stored value, memcached
// writes it over the value in place and pads the rest with spaces (decr
// of "10" leaves "9 "), keeping the value's length; only a longer result
// makes a new item, which counts in total_items. Both paths take a new
// CAS. The store copies that outcome, but builds the padded value in a new
// slice, since readers may hold the old one.
func (s *Store) arith(req *memcache.Request, out []byte, now int64) []byte {
	key := req.Key()
	incr := req.Cmd == memcache.CmdIncr
	sh := s.shardOf(key)
	m := s.flush.Load()
	var digits [20]byte

	sh.mu.Lock()
	it := sh.find(keyView(key), now, m)
	if it == nil {
		if incr {
			sh.st.incrMisses++
		} else {
			sh.st.decrMisses++
		}
		sh.mu.Unlock()
		return reply(out, req, memcache.ReplyNotFound)
	}
	v, ok := parseCounter(it.value)
	// Items above slab_chunk_max are stored in chunks, and memcached
	// refuses to parse those whatever they hold.
	if !ok || it.size > slabChunkMax {
		sh.mu.Unlock()
		return reply(out, req, memcache.ReplyNonNumeric)
	}
	d, _, fits := s.addDelta(sh, key, it, v, req.Delta, incr, &digits, now, m)
	sh.mu.Unlock()
	if !fits {
		return reply(out, req, "SERVER_ERROR out of memory\r\n")
	}
	if req.NoReply {
		return out
	}
	out = append(out, d...)
	return append(out, '\r', '\n')
}

// addDelta stores counter v of it plus (incr) or minus delta as memcached's
// do_add_delta does, for incr, decr and ma: over the value in place, padded
// with spaces, when the new number is no longer, else in a new item that
// memcached allocates afresh with only the key, client flags and exptime
// (no meta flags: not fetched, not stale, and a base64 key no longer marked
// so). Either way the item takes a new CAS. It returns the new number's
// digits (in digits), whether a new item replaced it, and false when that
// item does not fit (only with a budget of a few hundred bytes: memcached
// then keeps the old item and answers out of memory). sh.mu is held.
func (s *Store) addDelta(sh *shard, key []byte, it *item, v, delta uint64, incr bool, digits *[20]byte, now int64, m *flushMark) (d []byte, replaced, fits bool) {
	d = strconv.AppendUint(digits[:0], sh.bump(v, delta, incr), 10)
	if len(d) <= len(it.value) {
		it.value = padTo(d, len(it.value))
		it.cas = s.nextCas()
		return d, false, true
	}
	size := itemSize(len(key), len(d), it.flags)
	if s.fits(sh, size) != "" {
		return d, false, false
	}
	nw := item{value: append([]byte(nil), d...), flags: it.flags, exp: it.exp, time: now, cas: s.nextCas(), size: size}
	sh.relink(it, nw, now, m)
	return d, true, true
}

// parseCounter reads a stored value as memcached's safe_strtoull reads the
// item's memory, where the value is followed by "\r\n": C whitespace may
// lead, a sign may follow, then decimal digits that must not overflow 64
// bits, then the end, whitespace or NUL. strtoull negates a number after
// "-" modulo 2^64, and safe_strtoull refuses the result only when it is
// negative as a signed number: "-0" is 0 and "-9223372036854775809" is
// 9223372036854775807, while "-1" is refused.
//
// One case differs: a value of only whitespace makes memcached parse the
// bytes after the item, which hold whatever was there before; the store
// calls it non-numeric.
func parseCounter(v []byte) (uint64, bool) {
	i := 0
	for i < len(v) && isSpace(v[i]) {
		i++
	}
	neg := false
	if i < len(v) && (v[i] == '+' || v[i] == '-') {
		neg = v[i] == '-'
		i++
	}
	start := i
	var n uint64
	overflow := false
	for ; i < len(v) && '0' <= v[i] && v[i] <= '9'; i++ {
		d := uint64(v[i] - '0')
		if n > (^uint64(0)-d)/10 {
			overflow = true
		}
		n = n*10 + d
	}
	if i == start || overflow {
		return 0, false
	}
	if i < len(v) && !isSpace(v[i]) && v[i] != 0 {
		return 0, false
	}
	if neg {
		n = -n
		if int64(n) < 0 {
			return 0, false
		}
	}
	return n, true
}

// isSpace is C's isspace in the "C" locale.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// bump applies an incr or decr of delta to v as memcached does (incr wraps
// at 2^64, decr stops at 0) and counts the hit; the caller holds sh.mu.
func (sh *shard) bump(v, delta uint64, incr bool) uint64 {
	if incr {
		sh.st.incrHits++
		return v + delta
	}
	sh.st.decrHits++
	return v - min(v, delta)
}

// padTo returns a new n-byte value holding the number d followed by spaces:
// memcached rewrites a number that got no longer in place, keeping the
// item's length.
func padTo(d []byte, n int) []byte {
	value := make([]byte, n)
	for i := copy(value, d); i < n; i++ {
		value[i] = ' '
	}
	return value
}
