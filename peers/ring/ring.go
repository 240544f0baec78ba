package ring

import (
	"crypto/md5"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/serialx/hashring"
)

// PointsPerWeight is the number of ring points a node gets per unit of
// weight. serialx/hashring places exactly `weight` points per node, and a
// handful of points spreads keys very unevenly; 160 is ketama's number per
// server (and the memcache pool's).
const PointsPerWeight = 160

// MaxWeight bounds Node.Weight so a ring stays small (points are 24 bytes).
const MaxWeight = 100

// Node is one member of the ring.
type Node struct {
	// Name identifies the node on the ring; its points are hashed from it,
	// so a node that leaves and comes back under the same name owns the
	// same keys again. Peers are named by their peer address (host:port).
	Name string
	// Weight scales the node's share of the keys; 0 counts as 1.
	Weight int
}

// Errors of New.
var (
	// ErrEmptyName is returned when a node has no name.
	ErrEmptyName = errors.New("ring: a node has an empty name")
	// ErrDuplicate is returned when two nodes share a name.
	ErrDuplicate = errors.New("ring: duplicate node")
	// ErrWeight is returned when a weight is negative or above MaxWeight.
	ErrWeight = errors.New("ring: weight out of range")
)

// Ring is an immutable consistent-hash ring over a set of nodes.
//
// Its points are hashring's own (the MD5 of "name-j" read as two
// little-endian int64s, compared high then low), flattened into one sorted
// table: hashring.GetNodes costs a map, a slice, a string and an MD5 state
// per call (see BenchmarkOwners), which a multi-get would pay per key. The
// table is checked against hashring.GetNodes on sample keys when the ring is
// built; should they ever disagree (a new hashring version), lookups go
// through hashring itself.
type Ring struct {
	version uint64
	names   []string // node index -> name
	points  []point  // ascending
	lib     *hashring.HashRing
	viaLib  bool
}

// point is one point of the ring and the index of the node it belongs to.
type point struct {
	hi, lo int64
	node   int
}

func hashOf(b []byte) (hi, lo int64) {
	sum := md5.Sum(b)
	return int64(binary.LittleEndian.Uint64(sum[:8])), int64(binary.LittleEndian.Uint64(sum[8:]))
}

// less reports whether p sorts before the hash (hi, lo).
func (p point) less(hi, lo int64) bool {
	return p.hi < hi || p.hi == hi && p.lo < lo
}

// New builds the ring of nodes (in any order: the ring depends only on the
// set of names and weights).
func New(nodes []Node) (*Ring, error) {
	r := &Ring{names: make([]string, 0, len(nodes))}
	weights := make(map[string]int, len(nodes))
	total := 0
	for _, n := range nodes {
		switch {
		case n.Name == "":
			return nil, ErrEmptyName
		case n.Weight < 0 || n.Weight > MaxWeight:
			return nil, fmt.Errorf("%w: %s weight %d (0..%d)", ErrWeight, n.Name, n.Weight, MaxWeight)
		}
		if _, dup := weights[n.Name]; dup {
			return nil, fmt.Errorf("%w: %s", ErrDuplicate, n.Name)
		}
		w := max(n.Weight, 1)
		weights[n.Name] = w * PointsPerWeight
		total += w * PointsPerWeight
	}
	for n := range weights {
		r.names = append(r.names, n)
	}
	slices.Sort(r.names)
	r.points = make([]point, 0, total)
	var name []byte
	for i, n := range r.names {
		for j := range weights[n] {
			// hashring names point j of node n "n-j".
			name = strconv.AppendInt(append(append(name[:0], n...), '-'), int64(j), 10)
			hi, lo := hashOf(name)
			r.points = append(r.points, point{hi: hi, lo: lo, node: i})
		}
	}
	slices.SortFunc(r.points, func(a, b point) int {
		switch {
		case a.less(b.hi, b.lo):
			return -1
		case b.less(a.hi, a.lo):
			return 1
		}
		return 0
	})
	r.lib = hashring.NewWithWeights(weights)
	var own []string
	for i := range 256 {
		k := "fae-ring-probe:" + strconv.Itoa(i)
		for n := 1; n <= min(3, len(r.names)); n++ {
			lib, _ := r.lib.GetNodes(k, n)
			if own = r.owners([]byte(k), n, own); !slices.Equal(own, lib) {
				r.viaLib = true
				return r, nil
			}
		}
	}
	return r, nil
}

// Len returns the number of nodes.
func (r *Ring) Len() int { return len(r.names) }

// Nodes returns the node names in ascending order. The slice is the ring's:
// do not modify it.
func (r *Ring) Nodes() []string { return r.names }

// Version is the number the [Table] gave this ring: it grows by one with
// each ring the table installs. A ring built by New has version 0.
func (r *Ring) Version() uint64 { return r.version }

// Owners appends to dst[:0] the first n distinct nodes met walking the ring
// clockwise from key's hash, the first being the key's primary owner, and
// returns it. With fewer than n nodes it returns them all. The strings are
// the ring's; with cap(dst) >= n it allocates nothing.
func (r *Ring) Owners(key []byte, n int, dst []string) []string {
	dst = dst[:0]
	if r.viaLib {
		if n = min(n, len(r.names)); n > 0 {
			nodes, _ := r.lib.GetNodes(string(key), n)
			dst = append(dst, nodes...)
		}
		return dst
	}
	return r.owners(key, n, dst)
}

func (r *Ring) owners(key []byte, n int, dst []string) []string {
	dst = dst[:0]
	n = min(n, len(r.names))
	if n <= 0 {
		return dst
	}
	hi, lo := hashOf(key)
	// The first point p with key < p, i.e. not (p <= key), as
	// hashring.GetNodePos; past the last point, the ring wraps to the first.
	i, j := 0, len(r.points)
	for i < j {
		h := int(uint(i+j) >> 1)
		if p := r.points[h]; p.less(hi, lo) || p.hi == hi && p.lo == lo {
			i = h + 1
		} else {
			j = h
		}
	}
	for k := 0; k < len(r.points) && len(dst) < n; k++ {
		name := r.names[r.points[(i+k)%len(r.points)].node]
		if !slices.Contains(dst, name) {
			dst = append(dst, name)
		}
	}
	return dst
}

// Table holds the current ring. Lookups load it without a lock; Set builds
// the next ring and swaps it in, so a lookup that loaded the old ring
// finishes on it. Safe for concurrent use; the zero Table holds an empty
// ring.
type Table struct {
	mu  sync.Mutex // serializes Set, so versions follow the order of installs
	cur atomic.Pointer[Ring]
}

var empty = &Ring{}

// Load returns the current ring. A caller that must see one ring for a
// whole request (a multi-get split over owners) loads it once.
func (t *Table) Load() *Ring {
	if r := t.cur.Load(); r != nil {
		return r
	}
	return empty
}

// Set builds the ring of nodes and installs it; it returns the new ring.
// On error the current ring stays. Concurrent Sets install in the order
// they finish building, so membership changes should come from one
// goroutine (peers' OnChange does).
func (t *Table) Set(nodes []Node) (*Ring, error) {
	r, err := New(nodes)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	r.version = t.Load().version + 1
	t.cur.Store(r)
	return r, nil
}

// Owners is Load().Owners.
func (t *Table) Owners(key []byte, n int, dst []string) []string {
	return t.Load().Owners(key, n, dst)
}
