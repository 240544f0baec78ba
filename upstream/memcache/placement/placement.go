package placement

import "fmt"

// Server is one server as placement sees it.
type Server struct {
	// Addr is the server's host:port.
	Addr string
	// Weight is the server's share of the key space relative to the others;
	// 0 means 1.
	Weight int
	// Name, when set, replaces the address in the names of the server's
	// points under Twemproxy, as the name after a twemproxy server
	// ("host:port:weight name"). Other distributions refuse it.
	Name string
}

// MaxWeight bounds Server.Weight so the ring stays small.
const MaxWeight = 100

// Distribution is how keys are placed on servers. Each one is a ring
// (continuum) of points per server; they differ in how points are named and
// how keys are hashed, so only a placement with the same distribution,
// servers, weights (and names) as a client finds the keys that client wrote.
type Distribution string

const (
	// Ring is fae's own ring: serialx/hashring's MD5 points, 160 per unit
	// of weight. The default ("" means Ring).
	Ring Distribution = "ring"
	// Ketama places keys as libmemcached (and so PHP's memcached
	// extension) does with Memcached::OPT_LIBKETAMA_COMPATIBLE: weighted
	// ketama, 160 MD5 points per server at equal weights, MD5 key hash.
	// (A client that sets OPT_DISTRIBUTION after OPT_LIBKETAMA_COMPATIBLE
	// is back in libmemcached's unweighted mode: ConsistentMD5.)
	Ketama Distribution = "ketama"
	// Twemproxy places keys as twemproxy (nutcracker) does with
	// "distribution: ketama" and "hash: fnv1a_64".
	Twemproxy Distribution = "twemproxy"
	// Consistent places keys as libmemcached's
	// MEMCACHED_DISTRIBUTION_CONSISTENT with its default hash,
	// one_at_a_time: PHP's memcached extension with OPT_DISTRIBUTION set to
	// DISTRIBUTION_CONSISTENT (or memcached.default_consistent_hash on) and
	// neither OPT_LIBKETAMA_COMPATIBLE nor OPT_HASH set. 100 points per
	// server whatever its weight, each the one_at_a_time hash of a point
	// name, unless a server has a weight above 1: libmemcached then builds
	// Ketama's continuum, and hashes keys with one_at_a_time over it.
	Consistent Distribution = "libmemcached-consistent"
	// ConsistentMD5 is Consistent with MD5 for keys and points: PHP's
	// memcached extension with OPT_LIBKETAMA_COMPATIBLE set first and
	// OPT_DISTRIBUTION = DISTRIBUTION_CONSISTENT after it, or with OPT_HASH
	// = HASH_MD5 and DISTRIBUTION_CONSISTENT. With a server of weight above
	// 1 it places keys as Ketama does.
	ConsistentMD5 Distribution = "libmemcached-consistent-md5"
)

// Check reports whether d is one of the distributions ("" is not: the
// caller applies its default first).
func (d Distribution) Check() error {
	switch d {
	case Ring, Ketama, Twemproxy, Consistent, ConsistentMD5:
		return nil
	}
	return fmt.Errorf("%q is not one of %s, %s, %s, %s, %s", d, Ring, Ketama, Twemproxy, Consistent, ConsistentMD5)
}

// CheckServer reports why d cannot place keys on s, its message starting
// with the field of Server at fault ("weight: …", "name: …", "addr: …").
// It does not check that Addr is host:port.
func CheckServer(d Distribution, s Server) error {
	switch {
	case s.Weight < 0 || s.Weight > MaxWeight:
		return fmt.Errorf("weight: %d is outside 0..%d", s.Weight, MaxWeight)
	case s.Name != "" && d != Twemproxy:
		return fmt.Errorf("name: only the %s distribution names servers", Twemproxy)
	case d == Twemproxy && len(twemproxyName(s)) > maxNameLen:
		field := "addr"
		if s.Name != "" {
			field = "name"
		}
		return fmt.Errorf("%s: point name %q is longer than twemproxy's %d bytes", field, twemproxyName(s), maxNameLen)
	}
	return nil
}

// Map places keys on a fixed list of servers by one distribution: Pick
// returns the index in that list of the server that owns a key. It is
// read-only once built, so safe for concurrent use, and Pick allocates
// nothing.
type Map struct {
	pick picker
	skip string // see SkipPrefix
}

// picker maps a key to the index of the server that owns it. Each
// distribution is a constructor of one.
type picker func(key []byte) int

// New builds the placement of keys on servers by d ("" is Ring). servers
// must not be empty, and each should pass CheckServer (a weight outside
// 0..MaxWeight is taken as is).
func New(d Distribution, servers []Server) *Map {
	if len(servers) == 0 {
		panic("placement: New over no servers")
	}
	var pick picker
	switch d {
	case Ketama:
		pick = newKetamaPicker(servers)
	case Twemproxy:
		pick = newTwemproxyPicker(servers)
	case Consistent:
		pick = newConsistentPicker(servers)
	case ConsistentMD5:
		pick = newConsistentMD5Picker(servers)
	default:
		pick = newRingPicker(servers)
	}
	return &Map{pick: pick}
}

// SkipPrefix returns a Map that places a key that starts with prefix, and
// is longer than it, by the rest of the key, as m places that rest; other
// keys as m does. That is libmemcached's namespace (PHP's
// Memcached::OPT_PREFIX_KEY with OPT_HASH_WITH_PREFIX_KEY off): the client
// sends the prefix but hashes the key alone. A key equal to the prefix is
// placed whole (such a client never sends one). An empty prefix returns m.
func (m *Map) SkipPrefix(prefix string) *Map {
	if prefix == "" {
		return m
	}
	return &Map{pick: m.pick, skip: prefix}
}

// Pick returns the index of the server that owns key.
func (m *Map) Pick(key []byte) int {
	if n := len(m.skip); n > 0 && len(key) > n && string(key[:n]) == m.skip {
		key = key[n:]
	}
	return m.pick(key)
}
