package memcache

// command dispatches a split line the way memcached's process_command_ascii
// does. n is the length of the line with its "\n".
func (p *Parser) command(buf []byte, n int, t *tokens, req *Request) (int, error) {
	// No command is shorter than two bytes; an empty line is an error too.
	if t.n == 0 || len(t.tok[0]) < 2 {
		return n, &Error{Reply: errUnknown}
	}
	if c := t.tok[0]; len(c) == 2 && c[0] == 'm' {
		// memcached dispatches every 2-byte command starting with 'm' to
		// its meta commands (meta.go).
		return p.meta(buf, n, t, req)
	}
	switch string(t.tok[0]) {
	case "get", "bget":
		return p.retrieval(n, t, req, CmdGet)
	case "gets":
		return p.retrieval(n, t, req, CmdGets)
	case "gat":
		return p.retrieval(n, t, req, CmdGat)
	case "gats":
		return p.retrieval(n, t, req, CmdGats)
	case "set":
		return p.storage(buf, n, t, req, CmdSet)
	case "add":
		return p.storage(buf, n, t, req, CmdAdd)
	case "replace":
		return p.storage(buf, n, t, req, CmdReplace)
	case "append":
		return p.storage(buf, n, t, req, CmdAppend)
	case "prepend":
		return p.storage(buf, n, t, req, CmdPrepend)
	case "cas":
		return p.storage(buf, n, t, req, CmdCas)
	case "delete":
		return p.delete(n, t, req)
	case "incr":
		return p.arithmetic(n, t, req, CmdIncr)
	case "decr":
		return p.arithmetic(n, t, req, CmdDecr)
	case "touch":
		return p.touch(n, t, req)
	case "flush_all":
		return flushAll(n, t, req)
	case "verbosity":
		return verbosity(n, t, req)
	case "version":
		req.Cmd = CmdVersion
		return n, nil
	case "quit":
		req.Cmd = CmdQuit
		return n, nil
	case "stats":
		req.Cmd = CmdStats
		for _, a := range t.tok[1:t.n] {
			req.Args = append(req.Args, a)
		}
		return n, nil
	case "lock", "unlock", "id":
		return p.servantVerb(n, t, req)
	case "shutdown":
		// memcached refuses it whatever follows unless started with -A.
		return n, &Error{Reply: errShutdown}
	case "refresh_certs":
		// The answer of a build without TLS, and it ignores noreply.
		return n, &Error{Reply: errRefreshCerts}
	case "lru_crawler", "watch", "lru", "extstore":
		// Administrative commands faed does not serve; memcached never
		// applies its HTTP check to them.
		return n, &Error{Reply: errUnknown}
	}
	return n, unknown(t)
}

// unknown answers a command memcached does not know. Names starting with a
// letter that memcached dispatches on first (and 2-byte meta commands) get
// "ERROR" straight away; any other line whose last token starts with
// "HTTP/" is taken for an HTTP request and the connection is closed.
func unknown(t *tokens) *Error {
	c := t.tok[0]
	switch c[0] {
	case 'g', 's', 'a', 'c', 'i', 'd', 't':
		return &Error{Reply: errUnknown}
	case 'm':
		if len(c) == 2 {
			return &Error{Reply: errUnknown}
		}
	}
	if last := t.last(); len(last) >= 5 && string(last[:5]) == "HTTP/" {
		return &Error{Close: true}
	}
	return &Error{Reply: errUnknown}
}

// noreply is memcached's set_noreply_maybe: the last token is "noreply".
func noreply(t *tokens) bool { return string(t.last()) == "noreply" }

// retrieval parses get, gets, gat and gats (and the ancient bget, a get).
// Keys after the first 22 tokens are in t.rest; memcached splits them in
// further passes, which yields the same keys as one pass would.
func (p *Parser) retrieval(n int, t *tokens, req *Request, cmd Command) (int, error) {
	if t.n < 2 {
		return n, &Error{Reply: errUnknown}
	}
	req.Cmd = cmd
	first := 1
	if cmd == CmdGat || cmd == CmdGats {
		exp, ok := parseInt32(t.tok[1])
		if !ok {
			return n, &Error{Reply: errBadExptime}
		}
		req.Exptime = int64(exp)
		first = 2
	}
	maxKey := p.maxKeyLen()
	// A too-long key fails the whole command: memcached drops the VALUEs
	// it built for earlier keys, and the replies to earlier pipelined
	// requests it had not written yet, and sends only the error. Keys keeps
	// the earlier keys: for gat and gats memcached has already touched them.
	for _, k := range t.tok[first:t.n] {
		if len(k) > maxKey {
			return n, &Error{Reply: errBadFormat}
		}
		req.Keys = append(req.Keys, k)
	}
	for rest := t.rest; len(rest) > 0; {
		var k []byte
		k, rest = nextToken(rest)
		if len(k) == 0 {
			break
		}
		if len(k) > maxKey {
			return n, &Error{Reply: errBadFormat}
		}
		req.Keys = append(req.Keys, k)
	}
	if len(req.Keys) == 0 {
		// "gat <exptime>" alone is valid and memcached answers "END". It
		// is answered here so that a retrieval Request always has a key.
		return n, &Error{Reply: replyEnd}
	}
	return n, nil
}

// delete parses "delete <key> [0] [noreply]"; the legacy hold time is only
// accepted as "0".
func (p *Parser) delete(n int, t *tokens, req *Request) (int, error) {
	if t.n < 2 || t.n > 4 {
		return n, &Error{Reply: errUnknown}
	}
	req.Cmd = CmdDelete
	req.Keys = append(req.Keys, t.tok[1])
	if t.n > 2 {
		zero := string(t.tok[2]) == "0"
		req.NoReply = noreply(t)
		if !(t.n == 3 && (zero || req.NoReply) || t.n == 4 && zero && req.NoReply) {
			return n, replyErr(errDeleteUsage, req.NoReply)
		}
	}
	if len(t.tok[1]) > p.maxKeyLen() {
		return n, replyErr(errBadFormat, req.NoReply)
	}
	return n, nil
}

// arithmetic parses "incr|decr <key> <delta> [noreply]".
func (p *Parser) arithmetic(n int, t *tokens, req *Request, cmd Command) (int, error) {
	if t.n != 3 && t.n != 4 {
		return n, &Error{Reply: errUnknown}
	}
	req.Cmd = cmd
	req.NoReply = noreply(t)
	req.Keys = append(req.Keys, t.tok[1])
	if len(t.tok[1]) > p.maxKeyLen() {
		return n, replyErr(errBadFormat, req.NoReply)
	}
	delta, ok := parseUint64(t.tok[2])
	if !ok {
		return n, replyErr(errBadDelta, req.NoReply)
	}
	req.Delta = delta
	return n, nil
}

// touch parses "touch <key> <exptime> [noreply]".
func (p *Parser) touch(n int, t *tokens, req *Request) (int, error) {
	if t.n != 3 && t.n != 4 {
		return n, &Error{Reply: errUnknown}
	}
	req.Cmd = CmdTouch
	req.NoReply = noreply(t)
	req.Keys = append(req.Keys, t.tok[1])
	if len(t.tok[1]) > p.maxKeyLen() {
		return n, replyErr(errBadFormat, req.NoReply)
	}
	exp, ok := parseInt32(t.tok[2])
	if !ok {
		return n, replyErr(errBadExptime, req.NoReply)
	}
	req.Exptime = int64(exp)
	return n, nil
}

// flushAll parses "flush_all [delay] [noreply]". Like memcached, a second
// token is read as the delay unless it is the noreply; a third one that is
// not "noreply" is ignored.
func flushAll(n int, t *tokens, req *Request) (int, error) {
	if t.n > 3 {
		return n, &Error{Reply: errUnknown}
	}
	req.Cmd = CmdFlushAll
	req.NoReply = noreply(t)
	plain := 1
	if req.NoReply {
		plain = 2
	}
	if t.n != plain {
		exp, ok := parseInt32(t.tok[1])
		if !ok {
			return n, replyErr(errBadExptime, req.NoReply)
		}
		req.Exptime, req.HasArg = int64(exp), true
	}
	return n, nil
}

// verbosity parses "verbosity <level> [noreply]"; a third token that is not
// "noreply" is ignored.
func verbosity(n int, t *tokens, req *Request) (int, error) {
	if t.n != 2 && t.n != 3 {
		return n, &Error{Reply: errUnknown}
	}
	req.Cmd = CmdVerbosity
	req.NoReply = noreply(t)
	level, ok := parseUint32(t.tok[1])
	if !ok {
		return n, replyErr(errBadFormat, req.NoReply)
	}
	req.Level = level
	return n, nil
}

// servantVerb parses fae's own verbs: "lock <key> <ttl_ms>", "unlock <key>
// <token>" and "id [<tag>]". A wrong number of tokens is "ERROR", as for
// memcached's commands; a bad key or number is a bad command line.
func (p *Parser) servantVerb(n int, t *tokens, req *Request) (int, error) {
	switch string(t.tok[0]) {
	case "lock", "unlock":
		if t.n != 3 {
			return n, &Error{Reply: errUnknown}
		}
		req.Cmd = CmdLock
		if t.tok[0][0] == 'u' {
			req.Cmd = CmdUnlock
		}
		req.Keys = append(req.Keys, t.tok[1])
		if len(t.tok[1]) > p.maxKeyLen() {
			return n, &Error{Reply: errBadFormat}
		}
		if req.Cmd == CmdUnlock {
			req.Args = append(req.Args, t.tok[2])
			return n, nil
		}
		ttl, ok := parseUint64(t.tok[2])
		if !ok || ttl == 0 || ttl > 1<<31-1 {
			return n, &Error{Reply: errBadFormat}
		}
		req.Delta = ttl
		return n, nil
	}
	if t.n > 2 {
		return n, &Error{Reply: errUnknown}
	}
	req.Cmd = CmdID
	if t.n == 2 {
		tag, ok := parseUint64(t.tok[1])
		if !ok || tag > 31 {
			return n, &Error{Reply: errBadFormat}
		}
		req.Delta, req.HasArg = tag, true
	}
	return n, nil
}
