package server

import (
	"errors"
	"sync"
	"sync/atomic"

	"github.com/fae-sidecar/fae/proto/mcbin"
	"github.com/fae-sidecar/fae/proto/memcache"
	"github.com/fae-sidecar/fae/upstream"
)

// The binary protocol on the text port: as memcached does, a connection
// whose first byte is the request magic (0x80) speaks binary for good;
// any other first byte makes it a text connection for good. A binary
// connection shares the text one's machinery (reply slots and their
// order, limits, backpressure, the flush fence); only its parse loop and
// its replies differ. The keyed requests reach the handler translated to
// text (binary_text.go).

// binConn is the binary-protocol state of a connection. req, spare and
// args are owned by the event loop; free and ready are shared with the
// pools' goroutines, under mu.
type binConn struct {
	parser mcbin.Parser
	req    mcbin.Request
	spare  *binOp      // an op to reuse, owned by the loop
	args   [1][]byte   // stat's sub-command, as memcache.Request.Args
	text   []byte      // stat's text reply
	queued atomic.Bool // ready is not empty

	mu    sync.Mutex
	free  []*binOp // ops a pool finished with, to reuse
	ready []*binOp // ops whose next step the loop must send
}

// maxFreeOps bounds the ops a connection keeps for reuse.
const maxFreeOps = 64

// sniff decides, on the first bytes of the connection, which protocol it
// speaks, and reports whether it is binary.
func (cn *conn) sniff(buf []byte) bool {
	if cn.bin == nil && !cn.sniffed && len(buf) > 0 {
		cn.sniffed = true
		if buf[0] == mcbin.MagicRequest {
			cn.bin = &binConn{parser: mcbin.Parser{MaxKeyLen: cn.s.cfg.MaxKeyLen, MaxItemSize: cn.s.cfg.MaxItemSize}}
		}
	}
	return cn.bin != nil
}

// serveBinary is conn.serve's parse loop for a binary connection: it sends
// the next steps of requests that need them, then parses and serves what
// arrived. It returns out with the replies to write, the bytes of buf
// used, and whether the connection is held back.
func (cn *conn) serveBinary(out, buf []byte) (_ []byte, off int, held bool) {
	bc := cn.bin
	if bc.queued.Load() {
		cn.resumeBinary()
		out = cn.drain(out)
	}
	for !cn.closing && off < len(buf) {
		swallowed, next, limit := cn.gate(len(out), len(buf)-off)
		off += swallowed
		if swallowed > 0 {
			continue
		}
		if !next {
			return out, off, limit
		}
		n, err := bc.parser.Parse(buf[off:], &bc.req)
		if errors.Is(err, mcbin.ErrIncomplete) {
			break
		}
		flush := bc.req.Opcode.Base() == mcbin.OpFlush
		if err == nil && flush && len(cn.pending) > 0 {
			// The flush fence, as for flush_all: parse it again once every
			// earlier request is answered.
			cn.fence = true
			break
		}
		off += n
		if err != nil {
			var pe *mcbin.Error
			if !errors.As(err, &pe) {
				cn.closing = true
				break
			}
			out = cn.binaryError(out, pe)
			continue
		}
		out = cn.dispatchBinary(out)
		if flush && len(cn.pending) > 0 {
			cn.fence = true
		}
	}
	return out, off, false
}

// binaryError answers a request the parser refused, as memcached does.
func (cn *conn) binaryError(out []byte, pe *mcbin.Error) []byte {
	r := &cn.bin.req
	if pe.Status != mcbin.StatusOK {
		out = cn.reply(out, mcbin.AppendError(cn.scratch(), r.Opcode, r.Opaque, pe.Status))
	}
	cn.swallow = pe.Swallow
	if pe.Close {
		cn.closing = true
		return out
	}
	// A set refused as too large unlinks the key's old item, as in text.
	if pe.Status == mcbin.StatusValueTooLarge && r.Opcode.Base() == mcbin.OpSet && textSafe(r.Key) {
		cn.req.Reset()
		cn.req.Cmd = memcache.CmdDelete
		cn.req.Keys = append(cn.req.Keys, r.Key)
		cn.req.NoReply = true
		out = cn.handle(out, &cn.req)
	}
	return out
}

// dispatchBinary serves the request in cn.bin.req.
func (cn *conn) dispatchBinary(out []byte) []byte {
	bc := cn.bin
	r := &bc.req
	resp := mcbin.Response{Opcode: r.Opcode, Opaque: r.Opaque}
	switch r.Opcode.Base() {
	case mcbin.OpNoop, mcbin.OpVerbosity:
		return cn.reply(out, mcbin.AppendResponse(cn.scratch(), &resp))
	case mcbin.OpVersion:
		resp.Value = []byte(cn.s.cfg.Version)
		return cn.reply(out, mcbin.AppendResponse(cn.scratch(), &resp))
	case mcbin.OpQuit:
		cn.closing = true
		if r.Opcode.Quiet() {
			return out
		}
		return cn.reply(out, mcbin.AppendResponse(cn.scratch(), &resp))
	case mcbin.OpStat:
		var args [][]byte
		if len(r.Key) > 0 {
			bc.args[0] = r.Key
			args = bc.args[:]
		}
		bc.text = cn.s.appendStats(bc.text[:0], args)
		bc.args[0] = nil
		out = cn.reply(out, appendBinaryStats(cn.scratch(), r.Opcode, r.Opaque, bc.text))
		if cap(bc.text) > maxKeptSlotBuf {
			bc.text = nil
		}
		return out
	}
	if len(r.Key) > 0 && !textSafe(r.Key) {
		return cn.reply(out, mcbin.AppendError(cn.scratch(), r.Opcode, r.Opaque, mcbin.StatusInvalidArgs))
	}
	op := bc.takeOp()
	op.start(r)
	create := op.mayCreate() // read before op may belong to a pool
	out, async := cn.handleBinary(out, op)
	if async && create {
		// An increment that finds no counter creates it with a second
		// request, sent only once the first is answered: nothing after it
		// may leave before, or a request the client pipelined behind it
		// would not see the counter it created. The flush fence does that.
		cn.fence = true
	}
	return out
}

// handleBinary passes op to the handler, step after step while the handler
// answers at once. A response given at once goes straight to out while
// nothing is pending, as in handle; otherwise, or when a pool answers
// later, it queues in a slot.
func (cn *conn) handleBinary(out []byte, op *binOp) (_ []byte, async bool) {
	sl := cn.takeSlot()
	sl.cn = cn
	op.sl = sl
	dst := out
	if len(cn.pending) > 0 {
		dst = sl.buf[:0]
	}
	r, async := cn.runBinary(op, dst)
	if async {
		cn.inflight.Add(1)
		cn.s.inflight.Add(1)
		cn.pending = append(cn.pending, sl)
		return out, true
	}
	op.sl = nil
	cn.bin.keep(op)
	sl.cn = nil
	if len(cn.pending) == 0 {
		cn.spare = sl
		return r, false
	}
	sl.buf = r
	sl.done.Store(true)
	cn.pending = append(cn.pending, sl)
	return out, false
}

// runBinary sends op's current step, and the next ones while the handler
// answers at once. It returns dst with op's response, or async when a pool
// took a step over: op then belongs to the pool until it answers.
func (cn *conn) runBinary(op *binOp, dst []byte) (_ []byte, async bool) {
	for {
		text, async := cn.s.h.Serve(&op.req, op.text[:0], op)
		if async {
			return dst, true
		}
		op.text = text
		var more bool
		if dst, more = op.advance(dst, text); !more {
			if cap(op.text) > maxKeptSlotBuf {
				op.text = nil
			}
			return dst, false
		}
	}
}

// resumeBinary sends the next step of the requests whose pools answered a
// step that needs another (binOp.arith).
func (cn *conn) resumeBinary() {
	bc := cn.bin
	bc.mu.Lock()
	ready := bc.ready
	bc.ready = nil
	bc.queued.Store(false)
	bc.mu.Unlock()
	for _, op := range ready {
		sl := op.sl
		r, async := cn.runBinary(op, sl.buf[:0])
		if async {
			continue // still in flight; sl stays pending
		}
		op.sl = nil
		bc.keep(op)
		sl.buf = r
		sl.done.Store(true)
	}
}

// takeOp returns an op to translate a request with, owned by the loop.
func (bc *binConn) takeOp() *binOp {
	if op := bc.spare; op != nil {
		bc.spare = nil
		return op
	}
	bc.mu.Lock()
	var op *binOp
	if n := len(bc.free); n > 0 {
		op = bc.free[n-1]
		bc.free[n-1] = nil
		bc.free = bc.free[:n-1]
	}
	bc.mu.Unlock()
	if op == nil {
		op = &binOp{bc: bc}
	}
	return op
}

var _ upstream.LoopWaiter = (*binOp)(nil)

// Done implements upstream.Waiter: a pool answered op's step from its own
// goroutine.
func (op *binOp) Done(text []byte) {
	out, more := op.advance(op.buf[:0], text)
	op.buf = out
	sl := op.sl
	if more {
		c := sl.cn.c // read before the loop may take op back
		op.bc.resume(op)
		_ = c.Wake(nil)
		return
	}
	op.sl = nil
	sl.Done(out)
	op.bc.release(op)
}

// Loop implements upstream.LoopWaiter: op's request is on its slot's loop.
func (op *binOp) Loop() upstream.Loop {
	if l := op.sl.cn.loop; l != nil {
		return l
	}
	return nil
}

// DoneOnLoop implements upstream.LoopWaiter: a pool answered op's step on
// the connection's loop. A next step is sent when the loop serves the
// connection at the end of the event, not from within the pool's call.
func (op *binOp) DoneOnLoop(text []byte) {
	out, more := op.advance(op.buf[:0], text)
	op.buf = out
	sl := op.sl
	if more {
		op.bc.resume(op)
		sl.cn.loop.markDirty(sl.cn)
		return
	}
	op.sl = nil
	sl.DoneOnLoop(out)
	op.bc.release(op)
}

// resume queues op for the loop to send its next step.
func (bc *binConn) resume(op *binOp) {
	bc.mu.Lock()
	bc.ready = append(bc.ready, op)
	bc.queued.Store(true)
	bc.mu.Unlock()
}

// keep keeps op, finished on the loop, for reuse.
func (bc *binConn) keep(op *binOp) {
	if bc.spare == nil {
		bc.spare = op
		return
	}
	bc.release(op)
}

// release keeps op, whose response its slot has copied, for reuse.
func (bc *binConn) release(op *binOp) {
	if cap(op.buf) > maxKeptSlotBuf {
		op.buf = nil
	}
	bc.mu.Lock()
	if len(bc.free) < maxFreeOps {
		bc.free = append(bc.free, op)
	}
	bc.mu.Unlock()
}
