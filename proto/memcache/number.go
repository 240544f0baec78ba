package memcache

import "math"

// isSpace marks the bytes C's isspace accepts in the "C" locale. memcached
// parses numbers with strtoul/strtol, which skip these before a number and
// accept one right after it, so "\t7" and "7\tjunk" both read as 7.
// Read-only.
var isSpace = [256]bool{' ': true, '\t': true, '\n': true, '\v': true, '\f': true, '\r': true}

// scanDecimal reads tok the way memcached's safe_strto* helpers do with
// strtoull/strtoll, base 10: optional C whitespace, an optional sign, at least
// one digit, then the end of the token or a whitespace byte (anything after
// that is ignored). It returns the magnitude and the sign; ok is false when
// there is no digit, junk follows the digits, or the magnitude exceeds
// 2^64-1 (strtoull's ERANGE).
func scanDecimal(tok []byte) (mag uint64, neg, ok bool) {
	i := 0
	for i < len(tok) && isSpace[tok[i]] {
		i++
	}
	if i < len(tok) && (tok[i] == '+' || tok[i] == '-') {
		neg = tok[i] == '-'
		i++
	}
	start := i
	for ; i < len(tok); i++ {
		d := tok[i] - '0'
		if d > 9 {
			break
		}
		if mag > (math.MaxUint64-uint64(d))/10 {
			return 0, false, false
		}
		mag = mag*10 + uint64(d)
	}
	if i == start || (i < len(tok) && !isSpace[tok[i]]) {
		return 0, false, false
	}
	return mag, neg, true
}

// parseUint64 is memcached's safe_strtoull (delta, cas unique). strtoull
// negates a "-" number modulo 2^64 and safe_strtoull only refuses the result
// when it looks negative as a signed number: "-0" is 0 and
// "-18446744073709551615" is 1, both accepted, as the real server does.
func parseUint64(tok []byte) (uint64, bool) {
	mag, neg, ok := scanDecimal(tok)
	if !ok {
		return 0, false
	}
	v := mag
	if neg {
		v = -mag
	}
	if neg && int64(v) < 0 {
		return 0, false
	}
	return v, true
}

// parseUint32 is memcached's safe_strtoul (flags, verbosity level). On LP64
// unsigned long is 64 bits wide, so the value is range-checked as a uint64
// and then truncated: flags 4294967296 is stored as 0, as memcached does.
func parseUint32(tok []byte) (uint32, bool) {
	v, ok := parseUint64(tok)
	return uint32(v), ok
}

// parseInt32 is memcached's safe_strtol (exptime, bytes): strtol range-checks
// against int64 only and the result is truncated to int32, so exptime
// -4294967295 means 1 and bytes 4294967301 means 5, as on the real server.
func parseInt32(tok []byte) (int32, bool) {
	mag, neg, ok := scanDecimal(tok)
	if !ok {
		return 0, false
	}
	if neg {
		if mag > 1<<63 {
			return 0, false
		}
		return int32(-int64(mag)), true
	}
	if mag > math.MaxInt64 {
		return 0, false
	}
	return int32(int64(mag)), true
}
