package placement

import (
	"crypto/md5"
	"encoding/binary"
	"slices"
	"strconv"

	"github.com/serialx/hashring"
)

// pointsPerWeight is the number of ring points per unit of weight.
// serialx/hashring places exactly `weight` points per node, and one point per
// server spreads keys very unevenly; 160 is what ketama uses per server.
const pointsPerWeight = 160

// newRingPicker places servers on a weighted consistent-hash ring
// (serialx/hashring with its default MD5 points). A single server needs no
// ring.
//
// hashring's GetNode costs four allocations and ~600ns per key (string
// conversion, md5.New, Sum, a boxed key), which a multi-get pays per key. So
// the ring's points are flattened into a sorted table searched with md5.Sum:
// the same points, the same comparison, no allocation. The table is checked
// against hashring itself on sample keys; should they ever disagree (a new
// hashring version), lookups go through hashring.
func newRingPicker(servers []Server) picker {
	if len(servers) == 1 {
		return func([]byte) int { return 0 }
	}
	weights := make(map[string]int, len(servers))
	index := make(map[string]int, len(servers))
	var t ringTable
	for i, s := range servers {
		w := s.Weight
		if w == 0 {
			w = 1
		}
		// The ring keys nodes by name; the index suffix keeps two entries
		// for one address apart.
		name := s.Addr + "#" + strconv.Itoa(i)
		weights[name] = w * pointsPerWeight
		index[name] = i
		for j := range w * pointsPerWeight {
			// hashring names point j of node n "n-j".
			t = append(t, newRingPoint(name+"-"+strconv.Itoa(j), i))
		}
	}
	slices.SortFunc(t, func(a, b ringPoint) int {
		if a.less(b.hi, b.lo) {
			return -1
		}
		if b.less(a.hi, a.lo) {
			return 1
		}
		return 0
	})
	ring := hashring.NewWithWeights(weights)
	viaLib := func(key []byte) int {
		node, _ := ring.GetNode(string(key))
		return index[node]
	}
	for i := range 512 {
		k := []byte("fae-ring-probe:" + strconv.Itoa(i))
		if t.pick(k) != viaLib(k) {
			return viaLib
		}
	}
	return t.pick
}

// ringPoint is one point of the ring: hashring's Int64PairHashKey (the MD5
// of the point's name read as two little-endian int64s, compared
// high-then-low, signed) and the server it belongs to.
type ringPoint struct {
	hi, lo int64
	server int
}

func newRingPoint(name string, server int) ringPoint {
	sum := md5.Sum([]byte(name))
	return ringPoint{
		hi:     int64(binary.LittleEndian.Uint64(sum[:8])),
		lo:     int64(binary.LittleEndian.Uint64(sum[8:])),
		server: server,
	}
}

// less reports whether p sorts before the key (hi, lo).
func (p ringPoint) less(hi, lo int64) bool {
	return p.hi < hi || p.hi == hi && p.lo < lo
}

// ringTable is the ring's points in ascending order.
type ringTable []ringPoint

// pick returns the server of the first point above the key's hash, wrapping
// to the first point, as hashring.GetNodePos does.
func (t ringTable) pick(key []byte) int {
	sum := md5.Sum(key)
	hi := int64(binary.LittleEndian.Uint64(sum[:8]))
	lo := int64(binary.LittleEndian.Uint64(sum[8:]))
	// Find the first point p with key < p, i.e. not (p <= key).
	i, j := 0, len(t)
	for i < j {
		h := int(uint(i+j) >> 1)
		if p := t[h]; p.less(hi, lo) || p.hi == hi && p.lo == lo {
			i = h + 1
		} else {
			j = h
		}
	}
	if i == len(t) {
		i = 0
	}
	return t[i].server
}
