package local

import (
	"encoding/base64"
	"strconv"

	"github.com/fae-sidecar/fae/proto/memcache"
)

// The meta commands (mg, ms, md, ma, mn, me) as memcached 1.6.18 serves
// them (proto_text.c process_m*_command). Return flags are written in the
// order the client sent them. Errors are sent even in quiet mode; q drops
// only the nominal reply: EN for mg, HD for ms and md, HD or VA for an ma
// that found its item.
//
// Not modelled: the LRU effects of u (every hit moves the item to the LRU
// front) and the 60-second granularity of memcached's last-access time (l
// is the time since the item was stored).

// metaKey returns the key of a meta request, decoded when it came in
// base64 (flag b), and whether it did: items are stored under their
// decoded keys, as memcached stores them.
func metaKey(req *memcache.Request, buf *[memcache.MaxMetaKey]byte) ([]byte, bool) {
	return req.ItemKey(buf[:])
}

// serveMeta answers a meta command.
func (s *Store) serveMeta(req *memcache.Request, out []byte, now int64) []byte {
	switch req.Cmd {
	case memcache.CmdMetaGet:
		return s.metaGet(req, out, now)
	case memcache.CmdMetaSet:
		return s.metaSet(req, out, now)
	case memcache.CmdMetaDelete:
		return s.metaDelete(req, out, now)
	case memcache.CmdMetaArith:
		return s.metaArith(req, out, now)
	case memcache.CmdMetaDebug:
		return s.metaDebug(req, out, now)
	}
	return append(out, memcache.ReplyMetaNoop...)
}

// appendOpaqueKey appends the O and k return flags, in request order: all
// that a reply without an item carries.
func appendOpaqueKey(out []byte, m *memcache.MetaFlags, key []byte, bin bool) []byte {
	for tok, rest := memcache.NextMetaToken(m.Tokens); len(tok) > 0; tok, rest = memcache.NextMetaToken(rest) {
		switch tok[0] {
		case 'O':
			out = append(append(out, ' '), tok...)
		case 'k':
			out = memcache.AppendMetaKey(out, key, bin)
		}
	}
	return out
}

// appendTTL appends " t<remaining seconds>", -1 for an item that never
// expires; memcached prints the difference as an unsigned 32-bit number.
func appendTTL(out []byte, exp, now int64) []byte {
	out = append(out, " t"...)
	if exp == 0 {
		return append(out, "-1"...)
	}
	return strconv.AppendUint(out, uint64(uint32(exp-now)), 10)
}

func appendFlag(out []byte, f byte, v uint64) []byte {
	out = append(out, ' ', f)
	return strconv.AppendUint(out, v, 10)
}

// metaGet serves mg: VA/HD with the return flags, or EN. N creates a
// missing item (empty value) and wins it; R wins an item whose TTL is below
// the given one; an item marked stale (md/ms I) is X and wins once; Z says
// a win was already handed out.
func (s *Store) metaGet(req *memcache.Request, out []byte, now int64) []byte {
	m := &req.Meta
	var kb [memcache.MaxMetaKey]byte
	key, bin := metaKey(req, &kb)
	sh := s.shardOf(key)
	fm := s.flush.Load()

	sh.mu.Lock()
	it := sh.find(keyView(key), now, fm)
	created := false
	if it == nil && m.Has('N') {
		if size := itemSize(len(key), 0, 0); s.fits(sh, size) == "" {
			// Only ms marks an item's key binary, as in memcached.
			it = &item{value: []byte{}, time: now, cas: s.nextCas(), size: size}
			sh.link(key, it, now, fm)
			created = true
		}
	}
	if it == nil {
		// A miss counts as a get even with T: memcached notes the touch
		// only while building a hit's reply.
		sh.st.cmdGet++
		sh.st.getMisses++
		sh.mu.Unlock()
		if m.Quiet() {
			return out
		}
		out = append(out, "EN"...)
		out = appendOpaqueKey(out, m, key, bin)
		return append(out, '\r', '\n')
	}
	value := it.value
	if m.Has('v') {
		out = append(out, "VA "...)
		out = strconv.AppendInt(out, int64(len(value)), 10)
	} else {
		out = append(out, "HD"...)
	}
	won, ttlSet := false, false
	for tok, rest := memcache.NextMetaToken(m.Tokens); len(tok) > 0; tok, rest = memcache.NextMetaToken(rest) {
		switch tok[0] {
		case 'T':
			ttlSet = true
			it.exp = s.clock.realtime(m.TTL, now)
		case 'N':
			if created {
				it.exp = s.clock.realtime(m.Vivify, now)
				won = true
			}
		case 'R':
			if !it.tokenSent && !created && it.exp != 0 && it.exp < s.clock.realtime(m.Recache, now) {
				won = true
			}
		case 's':
			out = appendFlag(out, 's', uint64(len(value)))
		case 't':
			out = appendTTL(out, it.exp, now)
		case 'c':
			out = appendFlag(out, 'c', it.cas)
		case 'f':
			out = appendFlag(out, 'f', uint64(it.flags))
		case 'l':
			out = appendFlag(out, 'l', uint64(uint32(now-it.time)))
		case 'h':
			h := uint64(0)
			if it.fetched {
				h = 1
			}
			out = appendFlag(out, 'h', h)
		case 'O':
			out = append(append(out, ' '), tok...)
		case 'k':
			out = memcache.AppendMetaKey(out, key, it.binKey)
		}
	}
	if it.tokenSent {
		out = append(out, " Z"...)
	}
	if it.stale {
		out = append(out, " X"...)
		if !it.tokenSent {
			won = true
		}
	}
	if won {
		out = append(out, " W"...)
		it.tokenSent = true
	}
	out = append(out, '\r', '\n')
	if !m.Has('u') {
		it.fetched = true
	}
	if ttlSet {
		sh.st.cmdTouch++
		sh.st.touchHits++
	} else {
		sh.st.cmdGet++
		sh.st.getHits++
	}
	sh.mu.Unlock()
	if m.Has('v') {
		out = append(out, value...)
		out = append(out, '\r', '\n')
	}
	return out
}

// metaSet serves ms. M picks the mode (S set, E add, A append, P prepend,
// R replace); C turns set and replace into a cas (NF when missing, EX on a
// mismatch), and with I a CAS older than the item's still stores, marked
// stale, keeping the item's TTL and win token.
func (s *Store) metaSet(req *memcache.Request, out []byte, now int64) []byte {
	m := &req.Meta
	var kb [memcache.MaxMetaKey]byte
	key, bin := metaKey(req, &kb)
	sh := s.shardOf(key)
	mode := m.Mode
	if mode == 0 {
		mode = 'S'
	}
	isCas := m.Has('C') && (mode == 'S' || mode == 'R')
	size := itemSize(len(key), len(req.Data), m.Flags)
	fm := s.flush.Load()
	if line := s.fits(sh, size); line != "" {
		// memcached unlinks the key's item whatever the mode.
		sh.mu.Lock()
		if line == memcache.ReplyTooLarge {
			sh.st.storeTooLarge++
		} else {
			sh.st.storeNoMemory++
		}
		if it := sh.find(keyView(key), now, fm); it != nil {
			sh.unlink(keyView(key), it)
		}
		sh.mu.Unlock()
		return append(out, line...)
	}
	value := make([]byte, len(req.Data))
	copy(value, req.Data)
	var exp int64
	if m.Has('T') {
		exp = s.clock.realtime(m.TTL, now)
	}
	nw := item{value: value, flags: m.Flags, exp: exp, time: now, size: size, binKey: bin}

	sh.mu.Lock()
	sh.st.cmdSet++
	old := sh.find(keyView(key), now, fm)
	code := "HD"
	switch {
	case isCas:
		switch {
		case old == nil:
			sh.st.casMisses++
			code = "NF"
		case old.cas == m.Cas:
			sh.st.casHits++
		case m.Has('I') && m.Cas != 0 && m.Cas < old.cas: // memcached: C0 I is EX
			sh.st.casHits++
			nw.exp, nw.stale, nw.tokenSent = old.exp, true, old.tokenSent
		default:
			sh.st.casBadval++
			code = "EX"
		}
	case mode == 'E' && old != nil, mode == 'R' && old == nil:
		code = "NS"
	case mode == 'A' || mode == 'P':
		switch {
		case old == nil:
			code = "NS"
		case m.Cas != 0 && m.Cas != old.cas:
			code = "EX"
		default:
			n := len(old.value) + len(req.Data)
			size := itemSize(len(key), n, old.flags)
			if s.fits(sh, size) != "" {
				code = "NS"
				break
			}
			v := make([]byte, 0, n)
			if mode == 'A' {
				v = append(append(v, old.value...), req.Data...)
			} else {
				v = append(append(v, req.Data...), old.value...)
			}
			nw = item{value: v, flags: old.flags, exp: old.exp, time: now, size: size, binKey: bin}
		}
	}
	var cas uint64
	if code == "HD" {
		nw.cas = s.nextCas()
		cas = nw.cas
		if old != nil {
			sh.relink(old, nw, now, fm)
		} else {
			p := nw
			sh.link(key, &p, now, fm)
		}
	}
	sh.mu.Unlock()
	if code == "HD" && m.Quiet() {
		return out
	}
	out = append(out, code...)
	for tok, rest := memcache.NextMetaToken(m.Tokens); len(tok) > 0; tok, rest = memcache.NextMetaToken(rest) {
		switch tok[0] {
		case 'O':
			out = append(append(out, ' '), tok...)
		case 'k':
			out = memcache.AppendMetaKey(out, key, bin)
		case 'c':
			out = appendFlag(out, 'c', cas)
		}
	}
	return append(out, '\r', '\n')
}

// metaDelete serves md: HD, NF, or EX when C does not match. With I the
// item is kept, marked stale, with a new CAS (and T's TTL), and its win
// token is handed out again. Counting follows memcached, which counts an
// EX as a miss, but a binary delete's as neither, and nothing for a
// server's unlink after a refused set (see memcache.Origin).
func (s *Store) metaDelete(req *memcache.Request, out []byte, now int64) []byte {
	m := &req.Meta
	var kb [memcache.MaxMetaKey]byte
	key, bin := metaKey(req, &kb)
	sh := s.shardOf(key)
	counted := req.Origin != memcache.OriginUnlink

	sh.mu.Lock()
	it := sh.find(keyView(key), now, s.flush.Load())
	code := "HD"
	switch {
	case it == nil:
		if counted {
			sh.st.deleteMisses++
		}
		code = "NF"
	case m.Has('C') && it.cas != m.Cas:
		if req.Origin == memcache.OriginText {
			sh.st.deleteMisses++
		}
		code = "EX"
	case m.Has('I'):
		if m.Has('T') {
			it.exp = s.clock.realtime(m.TTL, now)
		}
		it.stale, it.tokenSent = true, false
		it.cas = s.nextCas()
	default:
		sh.unlink(keyView(key), it)
		if counted {
			sh.st.deleteHits++
		}
	}
	sh.mu.Unlock()
	if code == "HD" && m.Quiet() {
		return out
	}
	out = append(out, code...)
	out = appendOpaqueKey(out, m, key, bin)
	return append(out, '\r', '\n')
}

// metaArith serves ma: incr (default, M I or +) or decr (M D or -) by D
// (default 1), as incr and decr do. N creates a missing item holding J
// (default 0), answered even in quiet mode. C must match unless 0.
func (s *Store) metaArith(req *memcache.Request, out []byte, now int64) []byte {
	m := &req.Meta
	var kb [memcache.MaxMetaKey]byte
	key, bin := metaKey(req, &kb)
	incr := m.Mode != 'D' && m.Mode != '-'
	sh := s.shardOf(key)
	fm := s.flush.Load()
	var digits [20]byte
	var d []byte

	sh.mu.Lock()
	it := sh.find(keyView(key), now, fm)
	// replaced: the result needed a new item. memcached then answers
	// from the old, unlinked one, so T below changes only what t shows.
	created, replaced := false, false
	code := ""
	switch {
	case it == nil && m.Has('N'):
		d = strconv.AppendUint(digits[:0], m.Initial, 10)
		size := itemSize(len(key), len(d), 0)
		if s.fits(sh, size) != "" {
			sh.mu.Unlock()
			return append(out, "SERVER_ERROR Out of memory allocating new item\r\n"...)
		}
		it = &item{value: append([]byte(nil), d...), time: now, cas: s.nextCas(), size: size}
		sh.link(key, it, now, fm)
		created = true
	case it == nil:
		if incr {
			sh.st.incrMisses++
		} else {
			sh.st.decrMisses++
		}
		code = "NF"
	case len(it.value) == 0 || it.size > slabChunkMax:
		sh.mu.Unlock()
		return append(out, memcache.ReplyNonNumeric...)
	case m.Cas != 0 && it.cas != m.Cas:
		code = "EX"
		it = nil
	default:
		v, ok := parseCounter(it.value)
		if !ok {
			sh.mu.Unlock()
			return append(out, memcache.ReplyNonNumeric...)
		}
		var fits bool
		d, replaced, fits = s.addDelta(sh, key, it, v, m.Delta, incr, &digits, now, fm)
		if !fits {
			sh.mu.Unlock()
			return append(out, "SERVER_ERROR out of memory\r\n"...)
		}
	}
	if it == nil {
		sh.mu.Unlock()
		out = append(out, code...)
		out = appendOpaqueKey(out, m, key, bin)
		return append(out, '\r', '\n')
	}
	quiet := !created && m.Quiet()
	mark := len(out)
	exp := &it.exp
	if replaced {
		old := it.exp
		exp = &old
	}
	if m.Has('v') {
		out = append(out, "VA "...)
		out = strconv.AppendInt(out, int64(len(d)), 10)
	} else {
		out = append(out, "HD"...)
	}
	for tok, rest := memcache.NextMetaToken(m.Tokens); len(tok) > 0; tok, rest = memcache.NextMetaToken(rest) {
		switch tok[0] {
		case 'c':
			out = appendFlag(out, 'c', it.cas)
		case 't':
			out = appendTTL(out, *exp, now)
		case 'T':
			*exp = s.clock.realtime(m.TTL, now)
		case 'N':
			if created {
				*exp = s.clock.realtime(m.Vivify, now)
			}
		case 'O':
			out = append(append(out, ' '), tok...)
		case 'k':
			out = memcache.AppendMetaKey(out, key, bin)
		}
	}
	sh.mu.Unlock()
	if quiet {
		return out[:mark]
	}
	if m.Has('v') {
		out = append(out, '\r', '\n')
		out = append(out, d...)
	}
	return append(out, '\r', '\n')
}

// metaDebug serves me: memcached's item dump line, or EN.
func (s *Store) metaDebug(req *memcache.Request, out []byte, now int64) []byte {
	var kb [memcache.MaxMetaKey]byte
	key, _ := metaKey(req, &kb)
	sh := s.shardOf(key)
	sh.mu.Lock()
	it := sh.find(keyView(key), now, s.flush.Load())
	if it == nil {
		sh.mu.Unlock()
		return append(out, "EN\r\n"...)
	}
	out = append(out, "ME "...)
	if it.binKey {
		out = base64.StdEncoding.AppendEncode(out, key)
	} else {
		out = append(out, key...)
	}
	out = append(out, " exp="...)
	if it.exp == 0 {
		out = append(out, "-1"...)
	} else {
		out = strconv.AppendInt(out, int64(int32(now-it.exp)), 10)
	}
	out = append(out, " la="...)
	out = strconv.AppendUint(out, uint64(uint32(now-it.time)), 10)
	out = append(out, " cas="...)
	out = strconv.AppendUint(out, it.cas, 10)
	out = append(out, " fetch="...)
	if it.fetched {
		out = append(out, "yes"...)
	} else {
		out = append(out, "no"...)
	}
	out = append(out, " cls="...)
	out = strconv.AppendUint(out, uint64(slabClass(it.size)), 10)
	out = append(out, " size="...)
	out = strconv.AppendInt(out, it.size, 10)
	sh.mu.Unlock()
	return append(out, '\r', '\n')
}

// slabClass is the slab class memcached 1.6.18 stores an item of size
// bytes in, with its default settings (-n 48, -f 1.25, 512 KiB largest
// chunk): slabs_init and slabs_clsid. Larger items are chunked into the
// largest class.
func slabClass(size int64) int {
	const chunkMax = 512 << 10
	c := uint32(48 + 48)
	for i := 1; i < 63; i++ {
		if float64(c) >= chunkMax/1.25 {
			return i // the largest class: chunkMax
		}
		if c%8 != 0 {
			c += 8 - c%8
		}
		if size <= int64(c) {
			return i
		}
		c = uint32(float64(c) * 1.25)
	}
	return 63
}
