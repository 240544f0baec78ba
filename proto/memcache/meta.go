package memcache

import (
	"encoding/base64"
	"math"
	"strconv"
)

// MetaFlags is the flag set of a meta command (mg, ms, md, ma), as parsed by
// memcached 1.6.18's _meta_flag_preparse. Replies list return flags in the
// order the client sent them, so the flag tokens are kept as a view (Tokens)
// next to the values parsed out of them. The zero value has no flag.
type MetaFlags struct {
	// Set has bit f-'A' set for every flag letter f ('A'..'z') present.
	Set uint64
	// Tokens is the flag tokens as sent, separated by spaces: a view into
	// the parsed buffer, like Request.Keys.
	Tokens []byte
	// TTL (T), Vivify (N) and Recache (R) are exptimes as sent.
	TTL, Vivify, Recache int64
	// Flags is the client flags of ms (F).
	Flags uint32
	// Cas is the CAS to compare with (C); 0 when absent.
	Cas uint64
	// Delta (D, default 1 for ma) and Initial (J) are ma's numbers.
	Delta, Initial uint64
	// Mode is the byte after M, or 0.
	Mode byte
	// Fence, never set by Parse, makes AppendRequest follow the request
	// with an "mn": a proxy that must send q (see [MetaFlags.Loud]) then
	// reads the reply up to "MN".
	Fence bool
}

// AddFlag adds flag f, one without a value (b, c, f, k, q, s, t, v...), to
// a meta request built rather than parsed (the binary protocol's
// translation): its bit in Set and its token at the end of Tokens.
// AddFlag, AddMode and AddValue append to Tokens in place, so a builder
// that sets Tokens to a buffer of its own with room (buf[:0]) does not
// allocate.
func (m *MetaFlags) AddFlag(f byte) {
	m.set(f)
	m.Tokens = appendToken(m.Tokens, f)
}

// AddMode adds M with mode (ms: S E A P R; ma: I D), as AddFlag does.
func (m *MetaFlags) AddMode(mode byte) {
	m.set('M')
	m.Mode = mode
	m.Tokens = append(appendToken(m.Tokens, 'M'), mode)
}

// AddValue adds flag f with the value v and records v where Parse would:
// T, N and R (an exptime: v at most math.MaxInt32, the largest a meta
// command carries) in TTL, Vivify and Recache; F (at most math.MaxUint32)
// in Flags; C in Cas; D in Delta; J in Initial. See AddFlag.
func (m *MetaFlags) AddValue(f byte, v uint64) {
	switch f {
	case 'T':
		m.TTL = int64(v)
	case 'N':
		m.Vivify = int64(v)
	case 'R':
		m.Recache = int64(v)
	case 'F':
		m.Flags = uint32(v)
	case 'C':
		m.Cas = v
	case 'D':
		m.Delta = v
	case 'J':
		m.Initial = v
	}
	m.set(f)
	m.Tokens = strconv.AppendUint(appendToken(m.Tokens, f), v, 10)
}

// appendToken starts a new flag token with f.
func appendToken(tokens []byte, f byte) []byte {
	if len(tokens) > 0 {
		tokens = append(tokens, ' ')
	}
	return append(tokens, f)
}

// Has reports whether flag letter f was sent.
func (m *MetaFlags) Has(f byte) bool {
	return f >= 'A' && f <= 'z' && m.Set&(1<<(f-'A')) != 0
}

func (m *MetaFlags) set(f byte) { m.Set |= 1 << (f - 'A') }

// Quiet reports whether the q flag was sent.
func (m *MetaFlags) Quiet() bool { return m.Has('q') }

// Loud returns how a proxy forwards m so that every request has a reply to
// match: without q (AppendRequest then leaves the q token out), the proxy
// dropping the reply memcached would not have sent ([MetaQuietDrop]). One
// case keeps q and is fenced by an "mn" instead: an ma with q and N, whose
// reply memcached sends or not depending on whether it created the item,
// which the reply does not tell.
func (m MetaFlags) Loud(cmd Command) MetaFlags {
	if cmd == CmdMetaArith && m.Quiet() && m.Has('N') {
		m.Fence = true
		return m
	}
	m.Set &^= 1 << ('q' - 'A')
	return m
}

// NextMetaToken returns the first flag token of b (a MetaFlags.Tokens
// suffix) and the rest; tok is empty at the end.
func NextMetaToken(b []byte) (tok, rest []byte) { return nextToken(b) }

// The limits of memcached 1.6.18's meta commands.
const (
	metaMaxTokens = 20 // MFLAG_MAX_OPT_LENGTH, counted as memcached's ntokens
	// MetaMaxOpaque is MFLAG_MAX_OPAQUE_LENGTH: the longest O token, "O"
	// included.
	MetaMaxOpaque = 32
)

// Meta command error lines, as memcached 1.6.18 words them.
const (
	errMetaDup        = "CLIENT_ERROR duplicate flag"
	errMetaInvalid    = "CLIENT_ERROR invalid flag"
	errMetaBadToken   = "CLIENT_ERROR bad token in command line format"
	errMetaModeLen    = "CLIENT_ERROR incorrect length for M token"
	errMetaInitial    = "CLIENT_ERROR invalid numeric initial value"
	errMetaDelta      = "CLIENT_ERROR invalid numeric delta value"
	errMetaDecode     = "CLIENT_ERROR error decoding key"
	errMetaOpaque     = "CLIENT_ERROR opaque token too long"
	errMetaInvalidDup = "CLIENT_ERROR invalid or duplicate flag"
	errMetaTooLongMg  = "CLIENT_ERROR options flags are too long"
	errMetaTooLong    = "CLIENT_ERROR options flags too long"
	errMetaModeMs     = "CLIENT_ERROR invalid mode for ms M token"
	errMetaModeMa     = "CLIENT_ERROR invalid mode for ma M token"
	// ReplyMetaNoop is the reply to mn.
	ReplyMetaNoop = "MN\r\n"
)

// meta parses mg, ms, md, ma, mn and me (t.tok[0] is "m" plus one byte).
// Like memcached, every error of a meta command is sent even with q.
func (p *Parser) meta(buf []byte, n int, t *tokens, req *Request) (int, error) {
	var cmd Command
	switch t.tok[0][1] {
	case 'g':
		cmd = CmdMetaGet
	case 's':
		cmd = CmdMetaSet
	case 'd':
		cmd = CmdMetaDelete
	case 'a':
		cmd = CmdMetaArith
	case 'n':
		req.Cmd = CmdMetaNoop
		return n, nil
	case 'e':
		return p.metaDebug(n, t, req)
	default:
		return n, &Error{Reply: errUnknown}
	}
	if t.n < 2 { // WANT_TOKENS_MIN(ntokens, 3)
		return n, &Error{Reply: errUnknown}
	}
	req.Cmd = cmd
	key := t.tok[1]
	req.Keys = append(req.Keys, key)
	if len(key) > p.maxKeyLen() {
		return n, &Error{Reply: errBadFormat}
	}
	first := 2
	if cmd == CmdMetaSet {
		if t.n == 2 {
			return n, &Error{Reply: errBadFormat}
		}
		first = 3
	}
	if t.n+1 > metaMaxTokens || t.rest != nil {
		if cmd == CmdMetaGet {
			return n, &Error{Reply: errMetaTooLongMg}
		}
		return n, &Error{Reply: errMetaTooLong}
	}
	m := &req.Meta
	m.Tokens = flagRegion(buf[:n], first)
	if cmd == CmdMetaArith {
		m.Delta = 1
	}
	if cmd != CmdMetaSet {
		errstr := m.preparse(t, first, req)
		switch {
		case errstr != "" && cmd == CmdMetaGet:
			return n, &Error{Reply: errstr}
		case errstr != "":
			return n, &Error{Reply: errMetaInvalidDup}
		case cmd == CmdMetaArith && !validMode(m.Mode, "I+D-"):
			return n, &Error{Reply: errMetaModeMa}
		}
		if e := m.checkOpaque(t, first); e != nil {
			return n, e
		}
		return n, nil
	}
	vlen, ok := parseInt32(t.tok[2])
	if !ok || vlen < 0 || vlen > math.MaxInt32-2 {
		return n, &Error{Reply: errBadFormat}
	}
	size := int(vlen) + 2
	if errstr := m.preparse(t, first, req); errstr != "" {
		return n, &Error{Reply: errstr, Swallow: size}
	}
	if !validMode(m.Mode, "EAPRS") {
		return n, &Error{Reply: errMetaModeMs, Swallow: size}
	}
	if e := m.checkOpaque(t, first); e != nil {
		e.Swallow = size
		return n, e
	}
	if !p.fits(len(key), m.Flags, size) {
		// memcached unlinks the key's item whatever the mode: CmdSet makes
		// the server do that (see Error).
		req.Cmd = CmdSet
		return n, &Error{Reply: errTooLarge, Swallow: size}
	}
	end := n + size
	if len(buf) < end {
		req.Need = end
		return 0, ErrIncomplete
	}
	if buf[end-2] != '\r' || buf[end-1] != '\n' {
		return end, &Error{Reply: errBadChunk} // even with q
	}
	req.Data = buf[n : end-2 : end-2]
	return end, nil
}

// metaDebug parses "me <key> [b]".
func (p *Parser) metaDebug(n int, t *tokens, req *Request) (int, error) {
	if t.n < 2 || len(t.tok[1]) > p.maxKeyLen() {
		return n, &Error{Reply: errBadFormat}
	}
	req.Cmd = CmdMetaDebug
	req.Keys = append(req.Keys, t.tok[1])
	if t.n >= 3 && string(t.tok[2]) == "b" {
		req.Meta.set('b')
		req.Meta.Tokens = t.tok[2]
		if !req.decodeItem() {
			return n, &Error{Reply: errBadFormat}
		}
	}
	return n, nil
}

// validMode reports whether mode is 0 (none) or one of ok.
func validMode(mode byte, ok string) bool {
	if mode == 0 {
		return true
	}
	for i := range len(ok) {
		if ok[i] == mode {
			return true
		}
	}
	return false
}

// flagRegion returns the flag tokens of a meta line: what follows its
// first skip tokens.
func flagRegion(line []byte, skip int) []byte {
	end := len(line)
	if end > 0 && line[end-1] == '\n' {
		end--
	}
	if end > 1 && line[end-1] == '\r' {
		end--
	}
	rest := line[:end]
	for i := 0; i < len(rest); i++ {
		if rest[i] == 0 {
			rest = rest[:i]
			break
		}
	}
	for range skip {
		_, rest = nextToken(rest)
	}
	i, j := 0, len(rest)
	for i < j && rest[i] == ' ' {
		i++
	}
	for j > i && rest[j-1] == ' ' {
		j--
	}
	return rest[i:j:j]
}

// preparse is _meta_flag_preparse over t.tok[first:]: it fills m and
// returns the error line, or "". A duplicate or unknown flag stops it at
// once; a bad value is remembered and parsing goes on, so a later error
// line replaces it.
func (m *MetaFlags) preparse(t *tokens, first int, r *Request) string {
	errstr := ""
	hasErr := false
	bad := func(s string) {
		if s != "" {
			errstr = s
		}
		hasErr = true
	}
	for _, tok := range t.tok[first:t.n] {
		o := tok[0]
		if o >= 127 || m.seen(o) {
			return errMetaDup
		}
		m.markSeen(o)
		arg := tok[1:]
		switch o {
		case 'b':
			if !r.decodeItem() {
				bad(errMetaDecode)
			}
		case 'l', 'O', 'P', 'L', 'k', 's', 't', 'c', 'f', 'v', 'h', 'u', 'q', 'I':
		case 'N', 'T', 'R':
			v, ok := parseInt32(arg)
			if !ok {
				bad(errMetaBadToken)
				break
			}
			switch o {
			case 'N':
				m.Vivify = int64(v)
			case 'T':
				m.TTL = int64(v)
			default:
				m.Recache = int64(v)
			}
		case 'F':
			v, ok := parseUint32(arg)
			if !ok {
				bad("")
				break
			}
			m.Flags = v
		case 'C':
			v, ok := parseUint64(arg)
			if !ok {
				bad(errMetaBadToken)
				break
			}
			m.Cas = v
		case 'M':
			if len(tok) != 2 {
				bad(errMetaModeLen)
				break
			}
			m.Mode = tok[1]
		case 'J':
			v, ok := parseUint64(arg)
			if !ok {
				bad(errMetaInitial)
				break
			}
			m.Initial = v
		case 'D':
			v, ok := parseUint64(arg)
			if !ok {
				bad(errMetaDelta)
				break
			}
			m.Delta = v
		default:
			return errMetaInvalid
		}
	}
	if hasErr && errstr == "" {
		return errBadFormat
	}
	return errstr
}

// seen and markSeen track flags during preparse in Set; letters outside
// 'A'..'z' are refused by preparse right after being marked, so they need
// no bit.
func (m *MetaFlags) seen(o byte) bool { return m.Has(o) }
func (m *MetaFlags) markSeen(o byte) {
	if o >= 'A' && o <= 'z' {
		m.set(o)
	}
}

// checkOpaque refuses an O token longer than memcached's limit.
func (m *MetaFlags) checkOpaque(t *tokens, first int) *Error {
	if !m.Has('O') {
		return nil
	}
	for _, tok := range t.tok[first:t.n] {
		if tok[0] == 'O' && len(tok) > MetaMaxOpaque {
			return &Error{Reply: errMetaOpaque}
		}
	}
	return nil
}

// decodeItem decodes r's base64 key (flag b) into r's own buffer, where
// ItemKey finds it, and reports whether it decodes, as memcached requires.
// The key stays encoded in r.Keys (Parse never writes to its buffer) and a
// proxy forwards it as it came; what names the item is the decoded key.
func (r *Request) decodeItem() bool {
	if r.itemBuf == nil {
		r.itemBuf = make([]byte, MaxMetaKey)
	}
	d, ok := DecodeMetaKey(r.itemBuf[:MaxMetaKey], r.Key())
	r.item = d
	return ok
}

// MaxMetaKey is room enough for any base64 key of at most 256 bytes,
// decoded. memcached 1.6.18 checks its 250-byte key limit on the key as
// sent, so a base64 key names at most 186 bytes (MaxMetaKeyBytes).
const MaxMetaKey = 192

// MaxMetaKeyBytes is the longest key a meta command can name in base64
// (flag b) to memcached 1.6.18: the longest whose encoding fits in 250
// bytes.
const MaxMetaKeyBytes = DefaultMaxKeyLen / 4 * 3

// ItemKey returns the key of the item r addresses, as a store names it:
// r's first key, or, when a meta command sent it in base64 (flag b), that
// key decoded; decoded reports the latter. A key that does not decode
// (Parse refuses it) is returned as it is. Whatever places or caches items
// by key (router, pools, stores) uses it, so that a key sent in base64 is
// the same item as its bytes sent as they are, by any protocol.
//
// Parse decodes such a key once, into r, and a request built by hand gets
// it from [Request.SetItemKey]: ItemKey returns that, valid until r is
// reset. buf, which must hold MaxMetaKey bytes, is written only for a
// request built with flag b but without SetItemKey; with a nil buf, that
// request's key is returned as it is (decoded false).
func (r *Request) ItemKey(buf []byte) (key []byte, decoded bool) {
	k := r.Key()
	if !r.Cmd.IsMeta() || !r.Meta.Has('b') {
		return k, false
	}
	if r.item != nil {
		return r.item, true
	}
	if d, ok := DecodeMetaKey(buf, k); ok {
		return d, true
	}
	return k, false
}

// SetItemKey records key as the decoded form of r's base64 key (flag b),
// for ItemKey: whoever builds a request with flag b from a key it holds
// calls it, so that nobody decodes that key again. r keeps key itself, not
// a copy, until Reset.
func (r *Request) SetItemKey(key []byte) { r.item = key }

// DecodeMetaKey decodes a base64 key (flag b) into dst, which must hold
// MaxMetaKey bytes for a key of up to 256 bytes. It fails as memcached's
// base64_decode does: on bad input or an empty result.
func DecodeMetaKey(dst, key []byte) ([]byte, bool) {
	if base64.StdEncoding.DecodedLen(len(key)) > len(dst) {
		return nil, false
	}
	n, err := base64.StdEncoding.Decode(dst, key)
	if err != nil || n == 0 {
		return nil, false
	}
	return dst[:n], true
}

// AppendMetaKey appends " k<key>" as memcached's META_KEY does: a binary
// key (flag b) is base64-encoded and followed by " b".
func AppendMetaKey(out, key []byte, binary bool) []byte {
	out = append(out, " k"...)
	if !binary {
		return append(out, key...)
	}
	out = base64.StdEncoding.AppendEncode(out, key)
	return append(out, " b"...)
}

// appendMeta appends a meta request: command, key (as sent, base64 with b),
// ms's data length, the flag tokens (q only when r.Meta has it: a proxy
// clears it so that the upstream always answers) and ms's data block, all
// but the final "\r\n".
func appendMeta(out []byte, r *Request) []byte {
	out = append(out, ' ')
	out = append(out, r.Key()...)
	if r.Cmd == CmdMetaSet {
		out = append(out, ' ')
		out = strconv.AppendInt(out, int64(len(r.Data)), 10)
	}
	quiet := r.Meta.Quiet()
	for tok, rest := nextToken(r.Meta.Tokens); len(tok) > 0; tok, rest = nextToken(rest) {
		if tok[0] == 'q' && !quiet {
			continue
		}
		out = append(out, ' ')
		out = append(out, tok...)
	}
	if r.Cmd == CmdMetaSet {
		out = append(out, '\r', '\n')
		out = append(out, r.Data...)
	}
	if r.Meta.Fence {
		out = append(out, "\r\nmn"...)
	}
	return out
}

// MetaQuietDrop reports whether memcached 1.6.18 sends nothing for reply,
// the answer to a meta request r with flag q that was sent upstream
// without it: mg drops EN, ms and md drop HD, ma drops HD and VA (but not
// when it created the item: Loud fences that case instead). Errors and
// other codes are always sent.
func MetaQuietDrop(r *Request, reply []byte) bool {
	if !r.Meta.Quiet() || len(reply) < 2 {
		return false
	}
	return metaQuietDrop(r.Cmd, reply[0], reply[1])
}

func metaQuietDrop(cmd Command, c0, c1 byte) bool {
	switch cmd {
	case CmdMetaGet:
		return c0 == 'E' && c1 == 'N'
	case CmdMetaSet, CmdMetaDelete:
		return c0 == 'H' && c1 == 'D'
	case CmdMetaArith:
		return c0 == 'H' && c1 == 'D' || c0 == 'V' && c1 == 'A'
	}
	return false
}

// MetaQuietDropCode is MetaQuietDrop for a command and the first two bytes
// of its reply, for a caller that no longer holds the request.
func MetaQuietDropCode(cmd Command, reply []byte) bool {
	return len(reply) >= 2 && metaQuietDrop(cmd, reply[0], reply[1])
}
