package local

// Memcached's item layout on a 64-bit build, used to account memory and
// size limits exactly as memcached does (ITEM_ntotal): a 48-byte header, an
// 8-byte CAS, the key and its NUL, the value and its "\r\n", and 4 bytes of
// client flags only when they are not zero.
const (
	itemHeader   = 48 + 8
	flagsSuffix  = 4
	keyTerm      = 1
	valueTerm    = 2
	slabChunkMax = 512 << 10 // memcached's default slab_chunk_max
)

// item is one stored value. Its fields are read and written only under the
// owning shard's lock, but value itself is immutable once stored: a
// modification installs a new slice, so a reader may copy the slice header
// under the lock and append the bytes after releasing it.
type item struct {
	value []byte
	flags uint32
	// exp is the expiry in memcached relative time (see clock.go); 0 never.
	exp int64
	// time is the relative time the item was linked (stored).
	time int64
	cas  uint64
	size int64
	// The item flags that meta commands read and set (meta.go): marked
	// stale by md/ms I, a win token handed out, fetched since stored, key
	// sent in base64.
	stale, tokenSent, fetched, binKey bool
}

// itemSize is memcached's ITEM_ntotal for a key, value and flags.
func itemSize(nkey, nvalue int, flags uint32) int64 {
	n := int64(itemHeader + nkey + keyTerm + nvalue + valueTerm)
	if flags != 0 {
		n += flagsSuffix
	}
	return n
}

// expired reports whether its exptime has passed at relative time now.
func (it *item) expired(now int64) bool { return it.exp != 0 && it.exp <= now }
