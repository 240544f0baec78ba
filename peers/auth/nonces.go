package auth

// nonceSet remembers the nonces of accepted messages while their timestamps
// are inside the window, in a fixed amount of memory: a ring of entries in
// arrival order and an index over it. Not safe for concurrent use.
type nonceSet struct {
	ring  []nonceEntry
	head  int // oldest entry
	n     int
	index map[[nonceSize]byte]struct{}
}

type nonceEntry struct {
	nonce [nonceSize]byte
	ts    int64
}

type addResult int

const (
	addNew addResult = iota
	addSeen
	addFull
)

func newNonceSet(size int) nonceSet {
	return nonceSet{ring: make([]nonceEntry, size), index: make(map[[nonceSize]byte]struct{}, size)}
}

// add records nonce (of a message stamped ts) unless it is already there,
// first forgetting the oldest entries stamped before oldest: a message that
// old is refused as stale before its nonce is looked up. Entries leave in
// arrival order, so one stamped early but received late stays a little
// longer than it must; a set still full of fresh nonces refuses the new
// one rather than forget a nonce a replay could reuse.
func (s *nonceSet) add(nonce [nonceSize]byte, ts, oldest int64) addResult {
	if _, ok := s.index[nonce]; ok {
		return addSeen
	}
	for s.n > 0 && s.ring[s.head].ts < oldest {
		delete(s.index, s.ring[s.head].nonce)
		s.head = (s.head + 1) % len(s.ring)
		s.n--
	}
	if s.n == len(s.ring) {
		return addFull
	}
	s.ring[(s.head+s.n)%len(s.ring)] = nonceEntry{nonce: nonce, ts: ts}
	s.n++
	s.index[nonce] = struct{}{}
	return addNew
}
