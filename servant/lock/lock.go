package lock

import (
	"container/heap"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"sync"
	"time"
	"unsafe"
)

// Limits.
const (
	// DefaultMaxLeases is the table size New uses for a maximum <= 0.
	DefaultMaxLeases = 1 << 16
	// MaxKeyLen is the longest key, in bytes.
	MaxKeyLen = 250
	// MaxTTL is the longest time to live of a lease.
	MaxTTL = 24 * time.Hour
	// TokenLen is the length of a token: 16 random bytes in hex.
	TokenLen = 32
)

// Errors.
var (
	// ErrFull is returned by Lock when the table already holds its
	// maximum number of unexpired leases.
	ErrFull = errors.New("lock: too many leases held")
	// ErrBadKey is returned by Lock when the key is empty or longer than MaxKeyLen.
	ErrBadKey = errors.New("lock: key must be 1 to 250 bytes")
	// ErrBadTTL is returned by Lock when the time to live is not positive
	// or longer than MaxTTL.
	ErrBadTTL = errors.New("lock: ttl must be positive and at most 24h")
)

// Table holds the leases. Safe for concurrent use.
type Table struct {
	now func() time.Time
	max int

	mu     sync.Mutex
	leases map[string]*lease
	expiry byExpiry // the same leases, soonest expiry first
}

type lease struct {
	key, token string
	expires    int64 // unix nanos; the lease is held while now < expires
	index      int   // in the heap
}

// New returns an empty table of at most maxLeases leases (<= 0:
// DefaultMaxLeases), on clock (nil: time.Now).
func New(maxLeases int, clock func() time.Time) *Table {
	if maxLeases <= 0 {
		maxLeases = DefaultMaxLeases
	}
	if clock == nil {
		clock = time.Now
	}
	return &Table{now: clock, max: maxLeases, leases: map[string]*lease{}}
}

// Lock takes key's lease for ttl. It returns the lease's token and true, or
// "" and false when another unexpired lease holds key (whoever holds it: a
// lease is not reentrant). It fails with ErrBadKey, ErrBadTTL or ErrFull.
func (t *Table) Lock(key string, ttl time.Duration) (token string, ok bool, err error) {
	if len(key) == 0 || len(key) > MaxKeyLen {
		return "", false, ErrBadKey
	}
	if ttl <= 0 || ttl > MaxTTL {
		return "", false, ErrBadTTL
	}
	now := t.now().UnixNano()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.collect(now)
	if _, held := t.leases[key]; held {
		return "", false, nil
	}
	if len(t.leases) >= t.max {
		return "", false, ErrFull
	}
	l := newLease(key, now+int64(ttl))
	t.leases[l.key] = l
	heap.Push(&t.expiry, l)
	return l.token, true, nil
}

// Unlock gives back key's lease if token is its token and it has not
// expired; it reports whether it did. A wrong token leaves the lease held.
func (t *Table) Unlock(key, token string) bool {
	now := t.now().UnixNano()
	t.mu.Lock()
	defer t.mu.Unlock()
	l, ok := t.leases[key]
	if !ok {
		return false
	}
	if now >= l.expires {
		t.remove(l)
		return false
	}
	if subtle.ConstantTimeCompare([]byte(l.token), []byte(token)) != 1 {
		return false
	}
	t.remove(l)
	return true
}

// Len returns the number of leases held, counting expired ones not yet
// collected.
func (t *Table) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.leases)
}

// newLease makes key's lease with a new token. It runs under the table's
// lock, so a refused Lock costs no random bytes; crypto/rand is cheap
// enough there (getrandom, from the vDSO on Linux 6.11 and later). Key
// and token share one allocation, never written after.
func newLease(key string, expires int64) *lease {
	var raw [TokenLen / 2]byte
	rand.Read(raw[:])
	buf := make([]byte, len(key)+TokenLen)
	copy(buf, key)
	hex.Encode(buf[len(key):], raw[:])
	s := unsafe.String(unsafe.SliceData(buf), len(buf))
	return &lease{key: s[:len(key)], token: s[len(key):], expires: expires}
}

// collect drops the leases expired at now; the caller holds t.mu.
func (t *Table) collect(now int64) {
	for len(t.expiry) > 0 && t.expiry[0].expires <= now {
		t.remove(t.expiry[0])
	}
}

// remove drops l; the caller holds t.mu.
func (t *Table) remove(l *lease) {
	heap.Remove(&t.expiry, l.index)
	delete(t.leases, l.key)
}

// byExpiry is a min-heap of leases by expiry (container/heap).
type byExpiry []*lease

func (h byExpiry) Len() int           { return len(h) }
func (h byExpiry) Less(i, j int) bool { return h[i].expires < h[j].expires }
func (h byExpiry) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *byExpiry) Push(x any) {
	l := x.(*lease)
	l.index = len(*h)
	*h = append(*h, l)
}
func (h *byExpiry) Pop() any {
	old := *h
	l := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return l
}
