package placement

import (
	"crypto/md5"
	"encoding/binary"
	"math"
	"net"
	"slices"
	"strconv"
)

// Client-compatible key placement: the ketama continua of libmemcached
// (Ketama) and twemproxy (Twemproxy). Both follow last.fm's
// libketama:
//
//   - each server gets floor(weight/total × 160/4 × servers) × 4 points,
//     computed in float32 exactly as the C code does (so at equal weights,
//     160 each);
//   - point names are "NAME-i", i from 0; each MD5 of a name gives 4 points,
//     its four 32-bit little-endian words;
//   - NAME is the host when the port is memcached's default 11211, else
//     "host:port" (twemproxy: the server's name, when it has one);
//   - a key belongs to the first point >= its hash, wrapping to the first
//     point; points sort by value, ties keep server order.
//
// They differ in the key hash: libmemcached (MD5 mode, which
// OPT_LIBKETAMA_COMPATIBLE sets) takes the first 4 bytes of the key's MD5,
// little-endian; twemproxy's fnv1a_64 is FNV-1a run in 32 bits from the
// 64-bit offset basis and prime truncated to 32 bits.
//
// Sources: libmemcached-awesome src/libmemcached/hosts.cc (update_continuum,
// ketama_server_hash) and hash.cc (dispatch_host); twemproxy
// src/hashkit/nc_ketama.c, nc_fnv.c and src/nc_conf.c (conf_add_server).

const (
	// ketamaPointsPerServer is libketama's points per server at equal
	// weights (MEMCACHED_POINTS_PER_SERVER_KETAMA, KETAMA_POINTS_PER_SERVER).
	ketamaPointsPerServer = 160
	// ketamaPointsPerHash is the points one MD5 of a point name gives.
	ketamaPointsPerHash = 4
	// ketamaDefaultPort is the port left out of point names.
	ketamaDefaultPort = 11211
	// maxNameLen bounds a twemproxy point name's NAME: twemproxy formats
	// point names into 86 bytes (KETAMA_MAX_HOSTLEN) and hashes past the
	// end of that buffer when one is longer, so such a fleet cannot be
	// matched. 80 leaves room for "-" and 4 digits and the NUL.
	maxNameLen = 80
)

// newKetamaPicker places keys as libmemcached's weighted ketama does
// (Ketama).
func newKetamaPicker(servers []Server) picker {
	if len(servers) == 1 {
		// libmemcached skips hashing for a single server.
		return func([]byte) int { return 0 }
	}
	c := newContinuum(servers, ketamaName, false)
	return func(key []byte) int { return c.find(md5Hash32(key)) }
}

// newTwemproxyPicker places keys as twemproxy's "distribution: ketama" with
// "hash: fnv1a_64" does (Twemproxy).
func newTwemproxyPicker(servers []Server) picker {
	if len(servers) == 1 {
		return func([]byte) int { return 0 }
	}
	c := newContinuum(servers, twemproxyName, true)
	return func(key []byte) int { return c.find(fnv1a64Twemproxy(key)) }
}

// ketamaName is libmemcached's NAME of a server's points:
// "%s-%u" of the host alone on port 11211, else "%s:%u-%u".
func ketamaName(s Server) string {
	host, port, _ := net.SplitHostPort(s.Addr)
	n, err := strconv.Atoi(port)
	switch {
	case err != nil: // a service name; Validate let it through
		return host + ":" + port
	case n == ketamaDefaultPort:
		return host
	}
	return host + ":" + strconv.Itoa(n)
}

// twemproxyName is twemproxy's NAME of a server's points: its name if it
// has one, else the host alone on port 11211 (kept from libmemcached), else
// "host:port" as written in the configuration.
func twemproxyName(s Server) string {
	if s.Name != "" {
		return s.Name
	}
	host, port, _ := net.SplitHostPort(s.Addr)
	if n, err := strconv.Atoi(port); err == nil && n == ketamaDefaultPort {
		return host
	}
	return host + ":" + port
}

// ketamaPoints is the number of points of a server of weight w, out of the
// total weight of n servers. The float32 steps are those of the C code
// (libmemcached and twemproxy), rounding included: a different rounding
// would give some weights one name (4 points) more or less. Only the small
// constant differs: libmemcached adds a float (0.0000000001F), twemproxy a
// double; the explicit conversions keep Go from fusing the steps.
func ketamaPoints(w, total uint64, n int, twemproxy bool) int {
	pct := float32(w) / float32(total)
	x := float32(pct * ketamaPointsPerServer)
	x = float32(x / ketamaPointsPerHash)
	x = float32(x * float32(n))
	if twemproxy {
		x = float32(float64(x) + 0.0000000001)
	} else {
		x = float32(x + float32(0.0000000001))
	}
	return int(math.Floor(float64(x))) * ketamaPointsPerHash
}

// continuum is a ketama (or libmemcached consistent) ring: points
// ascending, owner[i] the index of the server of points[i]. It is
// read-only once built, so find is safe for concurrent use.
type continuum struct {
	points []uint32
	owner  []int32
}

// newContinuum builds the weighted ketama continuum of servers, naming each
// server's points with name(server).
func newContinuum(servers []Server, name func(Server) string, twemproxy bool) *continuum {
	var total uint64
	for _, s := range servers {
		total += uint64(max(s.Weight, 1))
	}
	var all []point
	var buf []byte
	for i, s := range servers {
		base := name(s)
		n := ketamaPoints(uint64(max(s.Weight, 1)), total, len(servers), twemproxy)
		for j := range n / ketamaPointsPerHash {
			buf = strconv.AppendInt(append(append(buf[:0], base...), '-'), int64(j), 10)
			sum := md5.Sum(buf)
			for k := range ketamaPointsPerHash {
				all = append(all, point{binary.LittleEndian.Uint32(sum[4*k:]), int32(i)})
			}
		}
	}
	return packContinuum(all)
}

// point is a continuum point while it is built: its value and the index
// of its server.
type point struct {
	v uint32
	s int32
}

// packContinuum sorts the points, appended in server order, into a
// continuum.
func packContinuum(all []point) *continuum {
	// Stable: equal values keep server order, as libmemcached's comparison
	// (value, then server) and glibc's merge-sort qsort under twemproxy do.
	slices.SortStableFunc(all, func(a, b point) int {
		switch {
		case a.v < b.v:
			return -1
		case a.v > b.v:
			return 1
		}
		return 0
	})
	c := &continuum{points: make([]uint32, len(all)), owner: make([]int32, len(all))}
	for i, p := range all {
		c.points[i], c.owner[i] = p.v, p.s
	}
	return c
}

// find returns the server of the first point >= h, wrapping to the first
// point, as libmemcached's dispatch_host and twemproxy's ketama_dispatch.
func (c *continuum) find(h uint32) int {
	i, j := 0, len(c.points)
	for i < j {
		m := int(uint(i+j) >> 1)
		if c.points[m] < h {
			i = m + 1
		} else {
			j = m
		}
	}
	if i == len(c.points) {
		i = 0
	}
	return int(c.owner[i])
}

// md5Hash32 is libhashkit's MD5 key hash: the first 4 bytes of the key's
// MD5, little-endian.
func md5Hash32(key []byte) uint32 {
	sum := md5.Sum(key)
	return binary.LittleEndian.Uint32(sum[:4])
}

// fnv1a64Twemproxy is twemproxy's hash_fnv1a_64: FNV-1a computed in 32 bits
// from the 64-bit offset basis and prime, both truncated to 32 bits. Each
// key byte goes through C's char, which is signed on x86-64: a byte >= 0x80
// is sign-extended before the xor. (On arm64, where char is unsigned,
// twemproxy places keys with such bytes elsewhere; fae follows x86-64.)
func fnv1a64Twemproxy(key []byte) uint32 {
	h := uint32(0xcbf29ce484222325 & 0xffffffff)
	for _, b := range key {
		h ^= uint32(int32(int8(b)))
		h *= 0x100000001b3 & 0xffffffff
	}
	return h
}
