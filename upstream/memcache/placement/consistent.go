package placement

import "strconv"

// libmemcached's MEMCACHED_DISTRIBUTION_CONSISTENT without libketama's
// weighting (Consistent, ConsistentMD5): what PHP's memcached
// extension does with OPT_DISTRIBUTION set to DISTRIBUTION_CONSISTENT,
// including when OPT_LIBKETAMA_COMPATIBLE was set before it, since setting
// the distribution turns libketama's weighting off again and keeps its MD5
// hash. The continuum (update_continuum, unweighted branch):
//
//   - each server gets 100 points (MEMCACHED_POINTS_PER_SERVER), whatever
//     its weight;
//   - point i is the key hash of the name "NAME-i", i from 0, one point per
//     name; NAME is the host alone on port 11211, else "host:port", as
//     under ketama;
//   - a key belongs to the first point >= its hash, wrapping to the first
//     point; points sort by value, then server.
//
// Weights switch it back: adding a server of weight above 1 to a client in
// a consistent distribution turns weighting on (server_add,
// memcached_server_push), and the continuum is then ketama's, MD5 points
// and all; only the key hash stays the configured one.
//
// The key hash is libhashkit's: one_at_a_time by default (hashkit_init),
// MD5 (hashkit_md5: the first 4 bytes of the digest, little-endian) after
// OPT_LIBKETAMA_COMPATIBLE or OPT_HASH = HASH_MD5.
//
// Sources: libmemcached-awesome (1.1.4 is Debian 12's libmemcached11)
// src/libmemcached/hosts.cc (update_continuum, server_add,
// memcached_server_push), behavior.cc (memcached_behavior_set_distribution,
// MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED), hash.cc (dispatch_host),
// src/libhashkit/digest.cc, hashkit.cc, one_at_a_time.cc and md5.cc; and
// php-memcached's php_memcached.c (php_memc_set_option). libmemcached 1.0's
// libmemcached/hosts.cc builds the same continuum.

// consistentPointsPerServer is libmemcached's points per server without
// weighting (MEMCACHED_POINTS_PER_SERVER).
const consistentPointsPerServer = 100

// newConsistentPicker places keys as libmemcached's
// MEMCACHED_DISTRIBUTION_CONSISTENT with the one_at_a_time key hash
// (Consistent).
func newConsistentPicker(servers []Server) picker {
	if len(servers) == 1 {
		return func([]byte) int { return 0 }
	}
	c := newConsistentContinuum(servers, oneAtATime)
	return func(key []byte) int { return c.find(oneAtATime(key)) }
}

// newConsistentMD5Picker places keys as libmemcached's
// MEMCACHED_DISTRIBUTION_CONSISTENT with the MD5 key hash
// (ConsistentMD5).
func newConsistentMD5Picker(servers []Server) picker {
	if len(servers) == 1 {
		return func([]byte) int { return 0 }
	}
	c := newConsistentContinuum(servers, md5Hash32)
	return func(key []byte) int { return c.find(md5Hash32(key)) }
}

// newConsistentContinuum builds the continuum libmemcached builds for
// MEMCACHED_DISTRIBUTION_CONSISTENT over servers, hashing point names with
// hash: 100 points per server, or ketama's weighted continuum when a
// server's weight is above 1.
func newConsistentContinuum(servers []Server, hash func([]byte) uint32) *continuum {
	for _, s := range servers {
		if s.Weight > 1 {
			return newContinuum(servers, ketamaName, false)
		}
	}
	all := make([]point, 0, len(servers)*consistentPointsPerServer)
	var buf []byte
	for i, s := range servers {
		base := ketamaName(s)
		for j := range consistentPointsPerServer {
			buf = strconv.AppendInt(append(append(buf[:0], base...), '-'), int64(j), 10)
			all = append(all, point{hash(buf), int32(i)})
		}
	}
	return packContinuum(all)
}

// oneAtATime is libhashkit's default hash, hashkit_one_at_a_time (Bob
// Jenkins's one-at-a-time). Each key byte goes through C's char, signed on
// x86-64: a byte >= 0x80 is sign-extended before it is added. (On arm64,
// where char is unsigned, libmemcached places keys with such bytes
// elsewhere; fae follows x86-64.)
func oneAtATime(key []byte) uint32 {
	var h uint32
	for _, b := range key {
		h += uint32(int32(int8(b)))
		h += h << 10
		h ^= h >> 6
	}
	h += h << 3
	h ^= h >> 11
	h += h << 15
	return h
}
