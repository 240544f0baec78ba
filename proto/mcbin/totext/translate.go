package totext

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"math"

	"github.com/fae-sidecar/fae/proto/mcbin"
	"github.com/fae-sidecar/fae/proto/memcache"
)

// The pools speak in memcache.Request and answer with text-protocol
// replies, so each binary request becomes one text-protocol request, a
// meta command for every mutation, and its reply becomes the binary
// response memcached 1.6.18 sends for that outcome. Meta commands, which
// the embedded store and a memcached pool both serve, say what the
// classic commands cannot: the new CAS of a mutation (return flag c), a
// CAS condition on any mutation (C), an increment that creates its
// counter with an initial value and an exptime in the same request (N,
// J), and any key (b: sent in base64).
//
//	get, getk (+q)          gets key                 VALUE → flags, cas, value
//	gat, gatk (+q), touch   gats exptime key         (touch: flags and cas only)
//	  (key not text-safe)   mg key b v f c [T<exp>]  VA, HD → flags, cas (+ value); EN
//	set, add, replace (+q)  ms key n c F<flags> T<exp> MS|ME|MR, or MS C<cas> when
//	                        CAS ≠ 0 (memcached makes any of them a compare-and-swap)
//	append, prepend (+q)    ms key n c MA|MP [C<cas>]    HD c<cas> → cas
//	delete (+q)             md key [C<cas>]
//	increment, decrement    ma key c v MI|MD D<delta> [N<exp> J<initial>] [C<cas>]
//	(+q)                    (no N with exptime 0xffffffff)   VA c<cas> → value, cas
//	flush (+q)              flush_all [delay]
//
// A key with a space or a control byte (not text-safe) cannot travel in a
// classic command's line, so it goes in base64 with flag b, and only on meta
// commands: its gets become mg. memcached checks its 250-byte key limit on
// the key as sent, so such a key longer than memcache.MaxMetaKeyBytes (186)
// cannot reach it and is refused ("Invalid arguments") whatever the pool.
// The gets of text-safe keys stay gets and gats, which memcached counts in
// its statistics as it counts the binary commands (an mg with T that
// misses counts as a get, not a touch). Translations carry
// memcache.OriginBinary, so that a delete refused for its CAS counts as
// neither a hit nor a miss, as memcached counts the binary delete (it
// counts an md's EX a miss).

// Translation is one keyed binary request (or flush) translated into a
// text-protocol request, Req, and what it takes to translate Req's reply
// into the binary response. Its zero value is ready for Translate or
// Unlink; reused, it allocates nothing. Req's key and flag tokens live in
// the Translation and its Data is the binary request's Value: Req is
// valid until the next Translate or Unlink and while that Value is. A
// Translation is not safe for concurrent use.
type Translation struct {
	// Req is the text-protocol request to serve.
	Req memcache.Request

	opcode mcbin.Opcode
	opaque uint32
	key    []byte // the key as sent: a copy, since the response outlives the inbound buffer

	b64    [memcache.DefaultMaxKeyLen]byte // the key in base64 (flag b), Req.Keys[0]
	tokens [maxTokens]byte                 // Req.Meta.Tokens
}

// maxTokens is room for the longest flag tokens a translation writes, an
// ma's: "b c v MI D<20 digits> N<10> J<20> C<20>".
const maxTokens = 112

// textExptime maps a binary exptime, unsigned, to the text protocol's,
// which memcached reads as a signed 32-bit number: the times past 2038 that
// it cannot say become 2038-01-19, still an absolute time in the future.
func textExptime(e uint32) uint64 { return uint64(min(e, math.MaxInt32)) }

// textSafe reports whether key can travel as it is in a text-protocol
// request: no space or control byte, which would split or end its line.
func textSafe(key []byte) bool {
	for _, c := range key {
		if c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

// Sendable reports whether a binary request's key can reach every pool:
// as it is, or in base64 within memcached's key limit. Translate takes
// only such keys; memcached answers any other "Invalid arguments". The
// length comes first: it settles nearly every key without the byte scan,
// which Translate does anyway.
func Sendable(key []byte) bool {
	return len(key) <= memcache.MaxMetaKeyBytes || textSafe(key)
}

// Translate makes t the translation of r, a keyed request (or flush)
// whose key is Sendable. r's Value must stay put while t.Req is used.
func (t *Translation) Translate(r *mcbin.Request) {
	t.opcode, t.opaque = r.Opcode, r.Opaque
	safe := t.setKey(r.Key)
	q, m := &t.Req, &t.Req.Meta
	q.Origin = memcache.OriginBinary
	base := r.Opcode.Base()
	switch base {
	case mcbin.OpGet, mcbin.OpGetK, mcbin.OpGAT, mcbin.OpGATK, mcbin.OpTouch:
		gat := base != mcbin.OpGet && base != mcbin.OpGetK
		if safe {
			q.Cmd = memcache.CmdGets
			if gat {
				q.Cmd, q.Exptime = memcache.CmdGats, int64(textExptime(r.Exptime))
			}
			break
		}
		q.Cmd = memcache.CmdMetaGet
		if base != mcbin.OpTouch {
			m.AddFlag('v')
		}
		m.AddFlag('f')
		m.AddFlag('c')
		if gat {
			m.AddValue('T', textExptime(r.Exptime))
		}
	case mcbin.OpSet, mcbin.OpAdd, mcbin.OpReplace:
		q.Cmd, q.Data = memcache.CmdMetaSet, r.Value
		m.AddFlag('c')
		m.AddValue('F', uint64(r.Flags))
		m.AddValue('T', textExptime(r.Exptime))
		switch {
		case r.Cas != 0:
			m.AddMode('S')
			m.AddValue('C', r.Cas)
		case base == mcbin.OpAdd:
			m.AddMode('E')
		case base == mcbin.OpReplace:
			m.AddMode('R')
		default:
			m.AddMode('S')
		}
	case mcbin.OpAppend, mcbin.OpPrepend:
		q.Cmd, q.Data = memcache.CmdMetaSet, r.Value
		m.AddFlag('c')
		if base == mcbin.OpAppend {
			m.AddMode('A')
		} else {
			m.AddMode('P')
		}
		t.casCondition(r.Cas)
	case mcbin.OpDelete:
		q.Cmd = memcache.CmdMetaDelete
		t.casCondition(r.Cas)
	case mcbin.OpIncrement, mcbin.OpDecrement:
		q.Cmd = memcache.CmdMetaArith
		m.AddFlag('c')
		m.AddFlag('v')
		if base == mcbin.OpIncrement {
			m.AddMode('I')
		} else {
			m.AddMode('D')
		}
		m.AddValue('D', r.Delta)
		if r.Exptime != mcbin.NoCreate {
			m.AddValue('N', textExptime(r.Exptime))
			m.AddValue('J', r.Initial)
		}
		t.casCondition(r.Cas)
	case mcbin.OpFlush:
		q.Keys = q.Keys[:0]
		q.Cmd = memcache.CmdFlushAll
		q.HasArg = r.Exptime != 0 // memcached treats a delay of 0 as none
		q.Exptime = int64(textExptime(r.Exptime))
	}
}

// setKey resets t.Req to a request for key, in base64 with flag b when
// it is not text-safe, which it reports.
func (t *Translation) setKey(key []byte) (safe bool) {
	t.key = append(t.key[:0], key...)
	q := &t.Req
	q.Reset()
	q.Meta.Tokens = t.tokens[:0]
	if textSafe(key) {
		q.Keys = append(q.Keys, t.key)
		return true
	}
	n := base64.StdEncoding.EncodedLen(len(key))
	base64.StdEncoding.Encode(t.b64[:n], key)
	q.Keys = append(q.Keys, t.b64[:n])
	q.Meta.AddFlag('b')
	q.SetItemKey(t.key) // the pools need not decode what we just encoded
	return false
}

// casCondition adds the C flag of a binary request with a CAS.
func (t *Translation) casCondition(cas uint64) {
	if cas != 0 {
		t.Req.Meta.AddValue('C', cas)
	}
}

// Unlink makes t a request, answered by nobody (NoReply), that unlinks
// key, a Sendable one: what memcached does to the item of a set it
// refuses as too large.
func (t *Translation) Unlink(key []byte) {
	t.opcode, t.opaque = mcbin.OpDeleteQ, 0
	safe := t.setKey(key)
	t.Req.Cmd = memcache.CmdMetaDelete
	if safe {
		t.Req.Cmd = memcache.CmdDelete
	}
	t.Req.NoReply, t.Req.Origin = true, memcache.OriginUnlink
}

// AppendResponse appends to dst the binary response to text, the whole
// text-protocol reply to t.Req: nothing for a quiet success or a quiet
// miss, an error response for an error line or a reply the translation
// does not expect. dst and text may not overlap.
func (t *Translation) AppendResponse(dst, text []byte) []byte {
	switch t.Req.Cmd {
	case memcache.CmdGets, memcache.CmdGats:
		if flags, cas, data, ok := parseValue(text); ok {
			return t.hit(dst, flags, cas, data)
		}
		if string(text) == memcache.ReplyEnd {
			return t.miss(dst)
		}
	case memcache.CmdMetaGet:
		r, ok := parseMeta(text)
		switch {
		case ok && (string(r.code) == "VA" || string(r.code) == "HD"):
			return t.hit(dst, r.flags, r.cas, r.value)
		case ok && string(r.code) == "EN":
			return t.miss(dst)
		}
	case memcache.CmdFlushAll:
		if string(text) == memcache.ReplyOK {
			return t.success(dst, 0, 0)
		}
	default:
		return t.mutated(dst, text)
	}
	return t.failed(dst, text)
}

// hit appends the response to a get, gat or touch that found the item.
func (t *Translation) hit(dst []byte, flags uint32, cas uint64, data []byte) []byte {
	var ext [4]byte
	binary.BigEndian.PutUint32(ext[:], flags)
	r := mcbin.Response{Opcode: t.opcode, Opaque: t.opaque, Cas: cas, Extras: ext[:]}
	switch t.opcode.Base() {
	case mcbin.OpGetK, mcbin.OpGATK:
		r.Key, r.Value = t.key, data
	case mcbin.OpGet, mcbin.OpGAT:
		r.Value = data
	}
	return mcbin.AppendResponse(dst, &r)
}

// miss appends the response to a get, gat or touch that found nothing.
func (t *Translation) miss(dst []byte) []byte {
	switch b := t.opcode.Base(); {
	case t.opcode.Quiet():
		return dst
	case b == mcbin.OpGetK || b == mcbin.OpGATK:
		return mcbin.AppendKeyMiss(dst, t.opcode, t.opaque, t.key)
	}
	return mcbin.AppendError(dst, t.opcode, t.opaque, mcbin.StatusKeyNotFound)
}

// mutated translates the reply to ms, md or ma.
func (t *Translation) mutated(dst, text []byte) []byte {
	r, ok := parseMeta(text)
	if !ok {
		return t.failed(dst, text)
	}
	arith := t.Req.Cmd == memcache.CmdMetaArith
	var st mcbin.Status
	switch string(r.code) {
	case "HD":
		if !arith {
			return t.success(dst, r.cas, 0)
		}
	case "VA":
		if n, ok := parseDecimal(r.value); ok && arith {
			return t.success(dst, r.cas, n)
		}
	case "EX":
		st = mcbin.StatusKeyExists
	case "NF":
		st = mcbin.StatusKeyNotFound
	case "NS":
		// memcached's words for the same outcome differ per command: an
		// add finds the key, a replace does not.
		switch t.opcode.Base() {
		case mcbin.OpAdd:
			st = mcbin.StatusKeyExists
		case mcbin.OpReplace:
			st = mcbin.StatusKeyNotFound
		default:
			st = mcbin.StatusNotStored
		}
	}
	if st == mcbin.StatusOK {
		return t.failed(dst, text)
	}
	return mcbin.AppendError(dst, t.opcode, t.opaque, st)
}

// success appends the response of a mutation (or flush) that worked:
// nothing for a quiet one; the item's new CAS; the counter's value for
// increment and decrement.
func (t *Translation) success(dst []byte, cas, counter uint64) []byte {
	if t.opcode.Quiet() {
		return dst
	}
	r := mcbin.Response{Opcode: t.opcode, Opaque: t.opaque, Cas: cas}
	var v [8]byte
	if b := t.opcode.Base(); b == mcbin.OpIncrement || b == mcbin.OpDecrement {
		binary.BigEndian.PutUint64(v[:], counter)
		r.Value = v[:]
	}
	return mcbin.AppendResponse(dst, &r)
}

// failed appends the error response for an error reply line (ERROR,
// CLIENT_ERROR, SERVER_ERROR) or one the translation does not expect,
// quiet or not: errors are always sent.
func (t *Translation) failed(dst, text []byte) []byte {
	st, msg := textError(text)
	if msg == nil {
		return mcbin.AppendError(dst, t.opcode, t.opaque, st)
	}
	return mcbin.AppendErrorMessage(dst, t.opcode, t.opaque, st, msg)
}

// textError maps an error reply line to a status, with the line's own
// words as the message (nil: the status's standard one) when memcached
// has no binary equivalent of them.
func textError(text []byte) (mcbin.Status, []byte) {
	line := bytes.TrimSuffix(text, []byte("\r\n"))
	switch {
	case string(text) == memcache.ReplyError:
		return mcbin.StatusUnknownCommand, nil
	case string(text) == memcache.ReplyNonNumeric:
		return mcbin.StatusNonNumeric, nil
	case string(text) == memcache.ReplyTooLarge:
		return mcbin.StatusValueTooLarge, nil
	case bytes.HasPrefix(line, []byte("SERVER_ERROR out of memory")):
		return mcbin.StatusOutOfMemory, nil
	case bytes.HasPrefix(line, []byte("CLIENT_ERROR ")):
		return mcbin.StatusInvalidArgs, line[len("CLIENT_ERROR "):]
	case bytes.HasPrefix(line, []byte("SERVER_ERROR ")):
		return mcbin.StatusInternalError, line[len("SERVER_ERROR "):]
	}
	return mcbin.StatusInternalError, []byte("unexpected reply from upstream")
}

// parseValue reads a reply to gets or gats for one key: "VALUE key flags
// bytes cas\r\ndata\r\nEND\r\n" (a missing cas reads as 0). ok is false
// for any other reply.
func parseValue(text []byte) (flags uint32, cas uint64, data []byte, ok bool) {
	_, block, rest, ok := memcache.NextValue(text)
	if !ok || string(rest) != memcache.ReplyEnd {
		return 0, 0, nil, false
	}
	eol := bytes.IndexByte(block, '\n')
	line := bytes.TrimSuffix(block[:eol], []byte("\r"))
	// VALUE key flags bytes [cas]: skip "VALUE key ", read the numbers.
	_, line, _ = bytes.Cut(line[len("VALUE "):], []byte(" "))
	var n [3]uint64
	i := 0
	for ; i < len(n) && len(line) > 0; i++ {
		var tok []byte
		tok, line, _ = bytes.Cut(line, []byte(" "))
		if n[i], ok = parseDecimal(tok); !ok {
			return 0, 0, nil, false
		}
	}
	if i < 2 || len(line) > 0 || n[0] > math.MaxUint32 {
		return 0, 0, nil, false
	}
	return uint32(n[0]), n[2], block[eol+1 : len(block)-2], true
}

// metaReply is what the translation reads of a reply to a meta command.
type metaReply struct {
	code  []byte // HD, VA, EN, NF, NS, EX
	flags uint32 // return flag f
	cas   uint64 // return flag c
	value []byte // VA's data block
}

// parseMeta reads a reply to mg, ms, md or ma: "<code> <flags>*\r\n", or
// "VA <size> <flags>*\r\n<data>\r\n". ok is false for an error line or
// anything else.
func parseMeta(text []byte) (r metaReply, ok bool) {
	nl := bytes.IndexByte(text, '\n')
	if nl < 3 || text[nl-1] != '\r' || nl > 3 && text[2] != ' ' {
		return r, false
	}
	line, rest := text[:nl-1], text[nl+1:]
	r.code, line = line[:2], line[min(3, len(line)):]
	size := -1
	if string(r.code) == "VA" {
		var tok []byte
		tok, line, _ = bytes.Cut(line, []byte(" "))
		n, ok := parseDecimal(tok)
		if !ok || len(rest) < 2 || n != uint64(len(rest)-2) || !bytes.HasSuffix(rest, []byte("\r\n")) {
			return r, false
		}
		size = int(n)
		r.value = rest[:size]
	}
	if size < 0 && len(rest) > 0 {
		return r, false
	}
	for len(line) > 0 {
		var tok []byte
		tok, line, _ = bytes.Cut(line, []byte(" "))
		if len(tok) == 0 {
			continue
		}
		switch tok[0] {
		case 'c':
			if r.cas, ok = parseDecimal(tok[1:]); !ok {
				return r, false
			}
		case 'f':
			f, ok := parseDecimal(tok[1:])
			if !ok || f > math.MaxUint32 {
				return r, false
			}
			r.flags = uint32(f)
		}
	}
	return r, true
}

// parseDecimal reads an unsigned decimal number that fits in 64 bits.
func parseDecimal(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		d := uint64(c - '0')
		if d > 9 || v > (math.MaxUint64-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	return v, true
}

// AppendStats appends to dst the binary response to a stat request of
// opcode op, translated from text, the text reply to stats: a packet per
// "STAT name value" line, then an empty packet; "ERROR" (an unknown
// sub-command) is "Not found", as memcached answers it. A stat's name
// must be shorter than 64 KiB, the most a packet's key can hold.
func AppendStats(dst []byte, op mcbin.Opcode, opaque uint32, text []byte) []byte {
	if string(text) == memcache.ReplyError {
		return mcbin.AppendError(dst, op, opaque, mcbin.StatusKeyNotFound)
	}
	for len(text) > 0 {
		eol := bytes.IndexByte(text, '\n')
		if eol < 0 {
			break
		}
		line := bytes.TrimSuffix(text[:eol], []byte("\r"))
		text = text[eol+1:]
		rest, ok := bytes.CutPrefix(line, []byte("STAT "))
		if !ok {
			continue // END, RESET
		}
		name, value, _ := bytes.Cut(rest, []byte(" "))
		dst = mcbin.AppendResponse(dst, &mcbin.Response{Opcode: op, Opaque: opaque, Key: name, Value: value})
	}
	return mcbin.AppendResponse(dst, &mcbin.Response{Opcode: op, Opaque: opaque})
}
