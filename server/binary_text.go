package server

import (
	"bytes"
	"encoding/binary"
	"math"
	"strconv"

	"github.com/fae-sidecar/fae/proto/mcbin"
	"github.com/fae-sidecar/fae/proto/memcache"
)

// The binary protocol is served by translation: the pools speak in
// memcache.Request and answer with text-protocol replies, so each binary
// request becomes one text request (sometimes a few, one after the other:
// see binOp.arith) and each text reply becomes the binary response
// memcached 1.6.18 sends for that outcome.
//
//	get, getk (+q)        gets key              VALUE → flags, cas, value
//	gat, gatk (+q), touch gats exptime key     (touch: flags and cas only)
//	set, add, replace (+q) set/add/replace,     STORED → cas of the new item
//	                      or cas when CAS ≠ 0
//	append, prepend (+q)  append/prepend        (+ CAS condition)
//	delete (+q)           delete               (+ CAS condition)
//	increment, decrement  incr/decr, then add of the initial value on a
//	(+q)                  miss, then incr/decr once more if the add lost a race
//	flush (+q)            flush_all [delay]
//
// The CAS of a mutation's response, and the CAS conditions of delete,
// append, prepend, increment and decrement, travel in Request.CasOut and
// Request.Cas: the embedded store honours them; a memcached pool cannot
// express them in the text protocol, so through it a mutation's response
// carries CAS 0 and those conditions are ignored.

// Steps of a binary request that takes several text requests.
const (
	stepFirst  = iota // the request itself
	stepCreate        // increment/decrement missed: add the initial value
	stepRetry         // the add lost a race: increment/decrement once more
)

// binOp carries one keyed binary request (or flush) through the handler:
// the text request of its current step, and the translation of the step's
// text reply into the binary response. It is the request's upstream.Waiter
// when a pool answers later. The loop owns it until it is handed to a pool;
// the pool's answer hands it back (see binConn).
type binOp struct {
	bc     *binConn
	sl     *slot
	opcode mcbin.Opcode
	opaque uint32
	key    []byte // a copy: later steps outlive the inbound buffer
	step   uint8

	// increment and decrement
	arithCmd memcache.Command
	delta    uint64
	initial  uint64
	exptime  uint32
	casCond  uint64

	cas  uint64           // Request.CasOut points here
	req  memcache.Request // the current step
	num  [20]byte         // the initial value, in decimal, for the add
	text []byte           // text replies given at once land here
	buf  []byte           // the binary response of an answer given later
}

// textExptime maps a binary exptime, unsigned, to the text protocol's,
// which memcached reads as a signed 32-bit number: the times past 2038 that
// it cannot say become 2038-01-19, still an absolute time in the future.
func textExptime(e uint32) int64 { return int64(min(e, math.MaxInt32)) }

// textSafe reports whether key can travel in a text-protocol request: no
// space or control byte, which would split or end its line. The binary
// protocol allows any byte, but a memcached pool re-encodes the request as
// text, so such a key is refused ("Invalid arguments") for every pool.
func textSafe(key []byte) bool {
	for _, c := range key {
		if c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

// start makes op the translation of r.
func (op *binOp) start(r *mcbin.Request) {
	op.opcode, op.opaque, op.step = r.Opcode, r.Opaque, stepFirst
	op.key = append(op.key[:0], r.Key...)
	op.cas = 0
	q := &op.req
	q.Reset()
	q.Keys = append(q.Keys, op.key)
	q.CasOut = &op.cas
	switch r.Opcode.Base() {
	case mcbin.OpGet, mcbin.OpGetK:
		q.Cmd = memcache.CmdGets
	case mcbin.OpGAT, mcbin.OpGATK, mcbin.OpTouch:
		q.Cmd = memcache.CmdGats
		q.Exptime = textExptime(r.Exptime)
	case mcbin.OpSet, mcbin.OpAdd, mcbin.OpReplace:
		// memcached makes any of them a compare-and-swap when CAS is set.
		q.Cmd = storeCmd(r.Opcode.Base())
		if r.Cas != 0 {
			q.Cmd, q.Cas = memcache.CmdCas, r.Cas
		}
		q.Flags, q.Exptime, q.Data = r.Flags, textExptime(r.Exptime), r.Value
	case mcbin.OpAppend, mcbin.OpPrepend:
		q.Cmd = memcache.CmdAppend
		if r.Opcode.Base() == mcbin.OpPrepend {
			q.Cmd = memcache.CmdPrepend
		}
		q.Data, q.Cas = r.Value, r.Cas
	case mcbin.OpDelete:
		q.Cmd, q.Cas = memcache.CmdDelete, r.Cas
	case mcbin.OpIncrement, mcbin.OpDecrement:
		op.arithCmd = memcache.CmdIncr
		if r.Opcode.Base() == mcbin.OpDecrement {
			op.arithCmd = memcache.CmdDecr
		}
		op.delta, op.initial, op.exptime, op.casCond = r.Delta, r.Initial, r.Exptime, r.Cas
		q.Cmd, q.Delta, q.Cas = op.arithCmd, r.Delta, r.Cas
	case mcbin.OpFlush:
		q.Keys = q.Keys[:0]
		q.Cmd = memcache.CmdFlushAll
		q.HasArg = r.Exptime != 0 // memcached treats a delay of 0 as none
		q.Exptime = textExptime(r.Exptime)
	}
}

func storeCmd(op mcbin.Opcode) memcache.Command {
	switch op {
	case mcbin.OpAdd:
		return memcache.CmdAdd
	case mcbin.OpReplace:
		return memcache.CmdReplace
	}
	return memcache.CmdSet
}

// advance takes the text reply to op's current step. It appends op's
// binary response to dst (nothing, for a quiet success) and returns false,
// or sets up the next step in op.req and returns true.
func (op *binOp) advance(dst, text []byte) ([]byte, bool) {
	switch op.opcode.Base() {
	case mcbin.OpGet, mcbin.OpGetK, mcbin.OpGAT, mcbin.OpGATK, mcbin.OpTouch:
		return op.retrieved(dst, text), false
	case mcbin.OpIncrement, mcbin.OpDecrement:
		return op.arith(dst, text)
	}
	return op.mutated(dst, text), false
}

// retrieved translates the reply to gets or gats.
func (op *binOp) retrieved(dst, text []byte) []byte {
	base := op.opcode.Base()
	withKey := base == mcbin.OpGetK || base == mcbin.OpGATK
	if flags, cas, data, ok := parseValue(text); ok {
		var ext [4]byte
		binary.BigEndian.PutUint32(ext[:], flags)
		r := mcbin.Response{Opcode: op.opcode, Opaque: op.opaque, Cas: cas, Extras: ext[:]}
		if withKey {
			r.Key = op.key
		}
		if base != mcbin.OpTouch {
			r.Value = data
		}
		return mcbin.AppendResponse(dst, &r)
	}
	if string(text) != memcache.ReplyEnd {
		return op.failed(dst, text)
	}
	switch {
	case op.opcode.Quiet():
		return dst
	case withKey:
		return mcbin.AppendKeyMiss(dst, op.opcode, op.opaque, op.key)
	}
	return mcbin.AppendError(dst, op.opcode, op.opaque, mcbin.StatusKeyNotFound)
}

// mutated translates the reply to a storage command, delete or flush_all.
func (op *binOp) mutated(dst, text []byte) []byte {
	st := mcbin.StatusOK
	switch string(text) {
	case memcache.ReplyStored, memcache.ReplyDeleted, memcache.ReplyOK:
		return op.success(dst, 0)
	case memcache.ReplyExists:
		st = mcbin.StatusKeyExists
	case memcache.ReplyNotFound:
		st = mcbin.StatusKeyNotFound
	case memcache.ReplyNotStored:
		// memcached's words for the same outcome differ per command.
		switch op.req.Cmd {
		case memcache.CmdAdd:
			st = mcbin.StatusKeyExists
		case memcache.CmdReplace:
			st = mcbin.StatusKeyNotFound
		default:
			st = mcbin.StatusNotStored
		}
	default:
		return op.failed(dst, text)
	}
	return mcbin.AppendError(dst, op.opcode, op.opaque, st)
}

// arith runs increment and decrement: the text incr/decr; on a miss, unless
// the exptime says not to create, an add of the initial value; and when
// another client created the counter in between (the add is refused), the
// incr/decr once more. memcached itself answers "Not stored" on that race;
// retrying gives the client the counter it asked for.
func (op *binOp) arith(dst, text []byte) ([]byte, bool) {
	if op.step == stepCreate {
		switch string(text) {
		case memcache.ReplyStored:
			return op.success(dst, op.initial), false
		case memcache.ReplyNotStored:
			op.step = stepRetry
			op.setArith()
			return dst, true
		}
		return op.failed(dst, text), false
	}
	if v, ok := parseCounter(text); ok {
		return op.success(dst, v), false
	}
	switch string(text) {
	case memcache.ReplyNotFound:
		if op.step == stepRetry {
			return mcbin.AppendError(dst, op.opcode, op.opaque, mcbin.StatusNotStored), false
		}
		if op.exptime == mcbin.NoCreate {
			return mcbin.AppendError(dst, op.opcode, op.opaque, mcbin.StatusKeyNotFound), false
		}
		op.step = stepCreate
		q := &op.req
		q.Reset()
		q.Cmd = memcache.CmdAdd
		q.Keys = append(q.Keys, op.key)
		q.Exptime = textExptime(op.exptime)
		q.Data = strconv.AppendUint(op.num[:0], op.initial, 10)
		q.CasOut = &op.cas
		return dst, true
	case memcache.ReplyExists:
		return mcbin.AppendError(dst, op.opcode, op.opaque, mcbin.StatusKeyExists), false
	}
	return op.failed(dst, text), false
}

// mayCreate reports whether op is an increment or decrement that may
// create its counter, with a second request.
func (op *binOp) mayCreate() bool {
	b := op.opcode.Base()
	return (b == mcbin.OpIncrement || b == mcbin.OpDecrement) && op.exptime != mcbin.NoCreate
}

// setArith makes op.req the incr or decr of op.
func (op *binOp) setArith() {
	q := &op.req
	q.Reset()
	q.Cmd = op.arithCmd
	q.Keys = append(q.Keys, op.key)
	q.Delta, q.Cas = op.delta, op.casCond
	q.CasOut = &op.cas
}

// success appends the response of a mutation that worked: nothing for a
// quiet one; the new CAS when the pool told it; the counter's value for
// increment and decrement.
func (op *binOp) success(dst []byte, counter uint64) []byte {
	if op.opcode.Quiet() {
		return dst
	}
	r := mcbin.Response{Opcode: op.opcode, Opaque: op.opaque, Cas: op.cas}
	var v [8]byte
	if b := op.opcode.Base(); b == mcbin.OpIncrement || b == mcbin.OpDecrement {
		binary.BigEndian.PutUint64(v[:], counter)
		r.Value = v[:]
	}
	return mcbin.AppendResponse(dst, &r)
}

// failed appends the error response for an error reply line (ERROR,
// CLIENT_ERROR, SERVER_ERROR), quiet or not: errors are always sent.
func (op *binOp) failed(dst, text []byte) []byte {
	st, msg := textError(text)
	if msg == nil {
		return mcbin.AppendError(dst, op.opcode, op.opaque, st)
	}
	return mcbin.AppendErrorMessage(dst, op.opcode, op.opaque, st, msg)
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

// parseCounter reads the reply to a successful incr or decr: a decimal
// number line.
func parseCounter(text []byte) (uint64, bool) {
	d, ok := bytes.CutSuffix(text, []byte("\r\n"))
	if !ok {
		return 0, false
	}
	return parseDecimal(d)
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

// appendStats translates the text reply to stats into the binary one: a
// packet per "STAT name value" line, then an empty packet; "ERROR" (an
// unknown sub-command) is "Not found", as memcached answers it.
func appendBinaryStats(dst []byte, op mcbin.Opcode, opaque uint32, text []byte) []byte {
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
