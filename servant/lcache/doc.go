// Package lcache is a local cache shared by every client of this sidecar:
// string keys to byte values, least recently used entries evicted first,
// bounded in bytes.
//
// [New] returns a [Cache] split into shards by key hash, each an LRU
// (hashicorp/golang-lru's simplelru) with its share of the byte budget. An
// entry costs its key, its value and [EntryOverhead] bytes. Entries do not
// expire; they leave when evicted, replaced or deleted.
//
// [Cache.Set] keeps its own copy of key and value. [Cache.Get] returns the
// stored value itself, without copying: the caller must not modify it (a
// later Set of the key stores a new copy and leaves the old one as it was,
// so a value once returned never changes under its reader).
//
// Safe for concurrent use; starts no goroutines. It holds nothing of the
// memcached pools' data.
package lcache
