package memcache

import "strconv"

// Reply lines of the text protocol, each with its "\r\n".
const (
	ReplyStored      = "STORED\r\n"
	ReplyNotStored   = "NOT_STORED\r\n"
	ReplyExists      = "EXISTS\r\n"
	ReplyNotFound    = "NOT_FOUND\r\n"
	ReplyDeleted     = "DELETED\r\n"
	ReplyTouched     = "TOUCHED\r\n"
	ReplyEnd         = "END\r\n"
	ReplyOK          = "OK\r\n"
	ReplyError       = "ERROR\r\n"
	ReplyNonNumeric  = "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"
	ReplyBadFormat   = "CLIENT_ERROR bad command line format\r\n"
	ReplyBadChunk    = "CLIENT_ERROR bad data chunk\r\n"
	ReplyTooLarge    = "SERVER_ERROR object too large for cache\r\n"
	ReplyOutOfMemory = "SERVER_ERROR out of memory storing object\r\n"
)

// AppendLock appends the reply to fae's lock verb (docs/PROTOCOL.md):
// "LOCKED <token>", "BUSY" when !ok, or err's SERVER_ERROR line.
func AppendLock(out []byte, token string, ok bool, err error) []byte {
	switch {
	case err != nil:
		return append(append(append(out, "SERVER_ERROR "...), err.Error()...), '\r', '\n')
	case !ok:
		return append(out, "BUSY\r\n"...)
	}
	return append(append(append(out, "LOCKED "...), token...), '\r', '\n')
}

// AppendUnlock appends the reply to fae's unlock verb: "UNLOCKED", or
// "NOT_FOUND" when !ok.
func AppendUnlock(out []byte, ok bool) []byte {
	if ok {
		return append(out, "UNLOCKED\r\n"...)
	}
	return append(out, ReplyNotFound...)
}

// AppendValue appends one "VALUE key flags bytes [cas]\r\ndata\r\n" block
// to out. withCas adds the cas unique (gets, gats). It does not allocate
// when out has room.
func AppendValue(out, key []byte, flags uint32, data []byte, cas uint64, withCas bool) []byte {
	out = append(out, "VALUE "...)
	out = append(out, key...)
	out = append(out, ' ')
	out = strconv.AppendUint(out, uint64(flags), 10)
	out = append(out, ' ')
	out = strconv.AppendUint(out, uint64(len(data)), 10)
	if withCas {
		out = append(out, ' ')
		out = strconv.AppendUint(out, cas, 10)
	}
	out = append(out, '\r', '\n')
	out = append(out, data...)
	return append(out, '\r', '\n')
}

// AppendUint appends a decimal number line (the reply of incr and decr).
func AppendUint(out []byte, v uint64) []byte {
	out = strconv.AppendUint(out, v, 10)
	return append(out, '\r', '\n')
}

// AppendStat appends one "STAT name value\r\n" line.
func AppendStat(out []byte, name string, value []byte) []byte {
	out = append(out, "STAT "...)
	out = append(out, name...)
	out = append(out, ' ')
	out = append(out, value...)
	return append(out, '\r', '\n')
}

// AppendStatUint appends one "STAT name value\r\n" line with a number.
func AppendStatUint(out []byte, name string, value uint64) []byte {
	out = append(out, "STAT "...)
	out = append(out, name...)
	out = append(out, ' ')
	out = strconv.AppendUint(out, value, 10)
	return append(out, '\r', '\n')
}
