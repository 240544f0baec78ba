package local

import (
	"hash/maphash"
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fae-sidecar/fae/proto/memcache"
	"github.com/fae-sidecar/fae/upstream"
)

// Defaults of [Config].
const (
	DefaultMaxBytes    = 64 << 20 // memcached -m 64
	DefaultMaxItemSize = 1 << 20  // memcached -I 1m
	maxShards          = 256
)

// Config configures a [Store]. The zero value is usable.
type Config struct {
	// MaxBytes bounds the memory of the stored items, counted as memcached
	// counts them (see item.go): about key + value + 59 bytes each.
	// Default 64 MiB. It is split evenly among the shards.
	MaxBytes int64
	// MaxItemSize bounds one item, counted the same way, like memcached's
	// -I: a larger set answers "SERVER_ERROR object too large for cache".
	// Default 1 MiB.
	MaxItemSize int
	// Shards is the number of independently locked shards, rounded up to a
	// power of two. Default 4 × GOMAXPROCS. It is lowered, down to 1, so
	// that each shard's share of MaxBytes holds two items of MaxItemSize.
	Shards int
	// Now is the clock, called on every request from many goroutines;
	// nil means time.Now. Expiry and flush_all use its whole seconds, as
	// memcached does.
	Now func() time.Time
}

// Store is the embedded memcached-compatible store. It implements
// [upstream.Pool], always answering at once. It is safe for concurrent use.
type Store struct {
	shards      []*shard
	mask        uint64
	seed        maphash.Seed
	maxItemSize int64
	maxBytes    int64
	clock       clock

	cas      atomic.Uint64 // last CAS unique handed out, global as in memcached
	cmdFlush atomic.Uint64
	flush    atomic.Pointer[flushMark]
	flushMu  sync.Mutex // serializes flush_all so marks chain their oldestCas
}

var _ upstream.Pool = (*Store)(nil)

// New returns an empty store configured by cfg, with defaults filled in.
func New(cfg Config) *Store {
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.MaxItemSize <= 0 {
		cfg.MaxItemSize = DefaultMaxItemSize
	}
	n := cfg.Shards
	if n <= 0 {
		n = 4 * runtime.GOMAXPROCS(0)
	}
	n = min(n, maxShards)
	n = 1 << bits.Len(uint(n-1)) // round up to a power of two
	for n > 1 && cfg.MaxBytes/int64(n) < 2*int64(cfg.MaxItemSize) {
		n /= 2
	}
	s := &Store{
		shards:      make([]*shard, n),
		mask:        uint64(n - 1),
		seed:        maphash.MakeSeed(),
		maxItemSize: int64(cfg.MaxItemSize),
		maxBytes:    cfg.MaxBytes,
		clock:       newClock(cfg.Now),
	}
	for i := range s.shards {
		s.shards[i] = newShard(cfg.MaxBytes / int64(n))
	}
	s.flush.Store(&flushMark{})
	return s
}

func (s *Store) shardOf(key []byte) *shard {
	return s.shards[maphash.Bytes(s.seed, key)&s.mask]
}

// nextCas returns a new CAS unique: memcached's get_cas_id, one global
// counter that every store, incr/decr and immediate flush_all advances.
func (s *Store) nextCas() uint64 { return s.cas.Add(1) }

// Serve answers req at once: it appends the reply to out (nothing when
// req.NoReply) and returns (out, false). req's slices are not retained.
// Commands other than the keyed ones and flush_all get "ERROR\r\n"; the
// server answers those itself.
func (s *Store) Serve(req *memcache.Request, out []byte, _ upstream.Waiter) ([]byte, bool) {
	now := s.clock.current()
	switch req.Cmd {
	case memcache.CmdGet, memcache.CmdGets, memcache.CmdGat, memcache.CmdGats:
		return s.retrieve(req, out, now), false
	case memcache.CmdSet, memcache.CmdAdd, memcache.CmdReplace, memcache.CmdCas:
		return s.store(req, out, now), false
	case memcache.CmdAppend, memcache.CmdPrepend:
		return s.concat(req, out, now), false
	case memcache.CmdDelete:
		return s.delete(req, out, now), false
	case memcache.CmdIncr, memcache.CmdDecr:
		return s.arith(req, out, now), false
	case memcache.CmdTouch:
		return s.touch(req, out, now), false
	case memcache.CmdFlushAll:
		return s.flushAll(req, out, now), false
	}
	if req.Cmd.IsMeta() {
		n := len(out)
		out = s.serveMeta(req, out, now)
		if req.NoReply { // not a client's: see memcache.Request.NoReply
			out = out[:n]
		}
		return out, false
	}
	return reply(out, req, memcache.ReplyError), false
}

// reply appends line unless the client asked for no reply. Memcached
// suppresses every reply of a noreply command, errors included.
func reply(out []byte, req *memcache.Request, line string) []byte {
	if req.NoReply {
		return out
	}
	return append(out, line...)
}

// Close releases the items. The store starts no goroutines; Serve after
// Close still works, on an empty store.
func (s *Store) Close() error {
	for _, sh := range s.shards {
		sh.mu.Lock()
		sh.lru.Purge()
		sh.bytes = 0
		sh.mu.Unlock()
	}
	return nil
}
