package server

import (
	"errors"
	"sync"

	"github.com/fae-sidecar/fae/eventloop"
	"github.com/fae-sidecar/fae/proto/mcbin"
	"github.com/fae-sidecar/fae/proto/mcbin/totext"
	"github.com/fae-sidecar/fae/upstream"
)

// The binary protocol's front (see front.go): as memcached does, a
// connection whose first byte is the request magic (0x80) speaks binary
// for good. Its keyed requests reach the handler translated to text
// by proto/mcbin/totext, and its responses are translated back.

// binConn is the binary-protocol front of a connection. req, spare and
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

// serveNext implements front for the binary protocol.
func (bc *binConn) serveNext(cn *conn, out, buf []byte) ([]byte, int, step) {
	n, err := bc.parser.Parse(buf, &bc.req)
	if errors.Is(err, mcbin.ErrIncomplete) {
		taken, ok := cn.await(buf, bc.req.Need)
		if !ok {
			return cn.binaryError(bc, out, mcbin.OutOfMemory(&bc.req)), 0, stepNext
		}
		return out, taken, stepIncomplete
	}
	flush := bc.req.Opcode.Base() == mcbin.OpFlush
	if err == nil && flush && len(cn.pending) > 0 {
		// The flush fence, as for flush_all: parse it again once every
		// earlier request is answered.
		return out, 0, stepFence
	}
	if err != nil {
		var pe *mcbin.Error
		if !errors.As(err, &pe) {
			cn.closing = true
			return out, n, stepNext
		}
		return cn.binaryError(bc, out, pe), n, stepNext
	}
	out = cn.dispatchBinary(bc, out)
	if flush && len(cn.pending) > 0 {
		cn.fence = true
	}
	return out, n, stepNext
}

// binaryError answers a request the parser refused, as memcached does.
func (cn *conn) binaryError(bc *binConn, out []byte, pe *mcbin.Error) []byte {
	r := &bc.req
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
	if refused && r.Opcode.Base() == mcbin.OpSet && totext.Sendable(r.Key) {
		op := bc.takeOp()
		op.tr.Unlink(r.Key)
		out = cn.handle(out, &op.tr.Req) // the pool is done with the request once Serve returns
		bc.keep(op)
	}
	return out
}

// dispatchBinary serves the request in bc.req.
func (cn *conn) dispatchBinary(bc *binConn, out []byte) []byte {
	r := &bc.req
	resp := mcbin.Response{Opcode: r.Opcode, Opaque: r.Opaque}
	switch r.Opcode.Base() {
	case mcbin.OpVerbosity:
		if v := cn.s.cfg.Verbosity; v != nil {
			v(r.Level)
		}
		return cn.reply(out, mcbin.AppendResponse(cn.scratch(), &resp))
	case mcbin.OpNoop:
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
		out = cn.reply(out, totext.AppendStats(cn.scratch(), r.Opcode, r.Opaque, bc.text))
		if cap(bc.text) > maxKeptSlotBuf {
			bc.text = nil
		}
		return out
	}
	if !totext.Sendable(r.Key) {
		return cn.reply(out, mcbin.AppendError(cn.scratch(), r.Opcode, r.Opaque, mcbin.StatusInvalidArgs))
	}
	op := bc.takeOp()
	op.tr.Translate(r)
	return cn.handleBinary(bc, out, op)
}

// handleBinary passes op's request to the handler. A response given at
// once goes straight to out while nothing is pending, as in handle;
// otherwise, or when a pool answers later, it queues in a slot. A pool
// that answers later owns op until it does.
func (cn *conn) handleBinary(bc *binConn, out []byte, op *binOp) []byte {
	sl := cn.takeSlot()
	sl.cn = cn
	op.sl = sl
	text, async := cn.s.h.Serve(&op.tr.Req, op.text[:0], op)
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
	r := op.tr.AppendResponse(dst, text)
	op.text = text
	if cap(op.text) > maxKeptSlotBuf {
		op.text = nil
	}
	op.sl = nil
	bc.keep(op)
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

// binOp carries one keyed binary request (or flush) through the handler:
// its translation, and the binary response to the reply. It is the
// request's upstream.Waiter when a pool answers later. The loop owns it
// until it is handed to a pool; the pool's answer hands it back (see
// binConn).
type binOp struct {
	bc   *binConn
	sl   *slot
	tr   totext.Translation
	text []byte // text replies given at once land here
	buf  []byte // the binary response of an answer given later
}

var _ upstream.LoopWaiter = (*binOp)(nil)

// Done implements upstream.Waiter: a pool answered op's request from its
// own goroutine.
func (op *binOp) Done(text []byte) {
	op.buf = op.tr.AppendResponse(op.buf[:0], text)
	sl := op.sl
	op.sl = nil
	sl.Done(op.buf)
	op.bc.release(op)
}

// Loop implements upstream.LoopWaiter: op's request is on its slot's loop.
func (op *binOp) Loop() eventloop.Loop {
	if l := op.sl.cn.loop; l != nil {
		return l
	}
	return nil
}

// DoneOnLoop implements upstream.LoopWaiter: a pool answered op's request
// on the connection's loop.
func (op *binOp) DoneOnLoop(text []byte) {
	op.buf = op.tr.AppendResponse(op.buf[:0], text)
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
