package memcache

import "math"

// storage parses "set|add|replace|append|prepend <key> <flags> <exptime>
// <bytes> [noreply]" and "cas <key> <flags> <exptime> <bytes> <cas>
// [noreply]", then the data block. n is the length of the command line.
//
// The checks run in memcached's order, and each decides what happens to the
// data block: a malformed line leaves it to be parsed as commands (it
// usually earns an "ERROR" of its own); an item too large for the cache has
// its data block swallowed; a data block not ending in "\r\n" is consumed
// whole (bytes+2) and whatever follows is parsed as the next command.
func (p *Parser) storage(buf []byte, n int, t *tokens, req *Request, cmd Command) (int, error) {
	want := 6
	if cmd == CmdCas {
		want = 7
	}
	if t.n != want-1 && t.n != want {
		return n, &Error{Reply: errUnknown}
	}
	req.Cmd = cmd
	req.NoReply = noreply(t)
	key := t.tok[1]
	req.Keys = append(req.Keys, key)
	if len(key) > p.maxKeyLen() {
		return n, replyErr(errBadFormat, req.NoReply)
	}
	flags, ok1 := parseUint32(t.tok[2])
	exp, ok2 := parseInt32(t.tok[3])
	vlen, ok3 := parseInt32(t.tok[4])
	if !ok1 || !ok2 || !ok3 {
		return n, replyErr(errBadFormat, req.NoReply)
	}
	req.Flags, req.Exptime = flags, int64(exp)
	if cmd == CmdCas {
		cas, ok := parseUint64(t.tok[5])
		if !ok {
			return n, replyErr(errBadFormat, req.NoReply)
		}
		req.Cas = cas
	}
	if vlen < 0 || vlen > math.MaxInt32-2 {
		return n, replyErr(errBadFormat, req.NoReply)
	}
	size := int(vlen) + 2
	if !p.fits(len(key), flags, size) {
		// memcached also unlinks the key's old item when this happens to a
		// set (not to add, replace, append, prepend or cas), so that a
		// stale value does not outlive the refused write: the caller must
		// delete Keys[0] for CmdSet.
		e := replyErr(errTooLarge, req.NoReply)
		e.Swallow = size
		return n, e
	}
	end := n + size
	if len(buf) < end {
		req.Need = end
		return 0, ErrIncomplete
	}
	if buf[end-2] != '\r' || buf[end-1] != '\n' {
		return end, replyErr(errBadChunk, req.NoReply)
	}
	req.Data = buf[n : end-2 : end-2]
	return end, nil
}

// fits is memcached's item_size_ok: the item header, the key and its NUL,
// the 4-byte flags suffix when flags are not 0, the data with its "\r\n" and
// the cas must fit in MaxItemSize.
func (p *Parser) fits(nkey int, flags uint32, size int) bool {
	total := itemHeaderSize + nkey + 1 + size
	if flags != 0 {
		total += 4
	}
	return total <= p.maxItemSize()
}
