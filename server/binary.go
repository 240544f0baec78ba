package server

import (
	"errors"
	"sync"

	"github.com/fae-sidecar/fae/proto/mcbin"
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
// args are owned by the event loop; free is shared with the pools'
// goroutines, under mu.
type binConn struct {
	parser mcbin.Parser
	req    mcbin.Request
	spare  *binOp    // an op to reuse, owned by the loop
	args   [1][]byte // stat's sub-command, as memcache.Request.Args
	text   []byte    // stat's text reply

	mu   sync.Mutex
	free []*binOp // ops a pool finished with, to reuse
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

// serveBinary is conn.parse for a binary connection.
func (cn *conn) serveBinary(out, buf []byte) (_ []byte, off int, held bool) {
	bc := cn.bin
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
			taken, ok := cn.await(buf[off:], bc.req.Need)
			if !ok {
				out = cn.binaryError(out, mcbin.OutOfMemory(&bc.req))
				continue
			}
			off += taken
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
	switch {
	case pe.Message != "":
		out = cn.reply(out, mcbin.AppendErrorMessage(cn.scratch(), r.Opcode, r.Opaque, pe.Status, []byte(pe.Message)))
	case pe.Status != mcbin.StatusOK:
		out = cn.reply(out, mcbin.AppendError(cn.scratch(), r.Opcode, r.Opaque, pe.Status))
	}
	cn.swallow = pe.Swallow
	if pe.Close {
		cn.closing = true
		return out
	}
	// A set refused as too large or for want of memory unlinks the key's
	// old item, as in text.
	refused := pe.Status == mcbin.StatusValueTooLarge || pe.Status == mcbin.StatusOutOfMemory
	if refused && r.Opcode.Base() == mcbin.OpSet && sendable(r.Key) {
		op := cn.bin.takeOp()
		op.unlink(r.Key)
		out = cn.handle(out, &op.req) // the pool is done with op.req once Serve returns
		cn.bin.keep(op)
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
	if !sendable(r.Key) {
		return cn.reply(out, mcbin.AppendError(cn.scratch(), r.Opcode, r.Opaque, mcbin.StatusInvalidArgs))
	}
	op := bc.takeOp()
	op.start(r)
	return cn.handleBinary(out, op)
}

// handleBinary passes op's request to the handler. A response given at
// once goes straight to out while nothing is pending, as in handle;
// otherwise, or when a pool answers later, it queues in a slot. A pool
// that answers later owns op until it does.
func (cn *conn) handleBinary(out []byte, op *binOp) []byte {
	sl := cn.takeSlot()
	sl.cn = cn
	op.sl = sl
	text, async := cn.s.h.Serve(&op.req, op.text[:0], op)
	if async {
		cn.inflight.Add(1)
		cn.s.inflight.Add(1)
		cn.pending = append(cn.pending, sl)
		return out
	}
	dst := out
	if len(cn.pending) > 0 {
		dst = sl.buf[:0]
	}
	r := op.answer(dst, text)
	op.text = text
	if cap(op.text) > maxKeptSlotBuf {
		op.text = nil
	}
	op.sl = nil
	cn.bin.keep(op)
	sl.cn = nil
	if len(cn.pending) == 0 {
		cn.spare = sl
		return r
	}
	sl.buf = r
	sl.done.Store(true)
	cn.pending = append(cn.pending, sl)
	return out
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

// Done implements upstream.Waiter: a pool answered op's request from its
// own goroutine.
func (op *binOp) Done(text []byte) {
	op.buf = op.answer(op.buf[:0], text)
	sl := op.sl
	op.sl = nil
	sl.Done(op.buf)
	op.bc.release(op)
}

// Loop implements upstream.LoopWaiter: op's request is on its slot's loop.
func (op *binOp) Loop() upstream.Loop {
	if l := op.sl.cn.loop; l != nil {
		return l
	}
	return nil
}

// DoneOnLoop implements upstream.LoopWaiter: a pool answered op's request
// on the connection's loop.
func (op *binOp) DoneOnLoop(text []byte) {
	op.buf = op.answer(op.buf[:0], text)
	sl := op.sl
	op.sl = nil
	sl.DoneOnLoop(op.buf)
	op.bc.release(op)
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
