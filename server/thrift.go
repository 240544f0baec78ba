package server

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/fae-sidecar/fae/proto/thrift"
	"github.com/fae-sidecar/fae/proto/thrift/fae"
)

// The Thrift front (see front.go): a connection whose first byte is 0x00
// speaks framed Thrift, binary protocol, for good. Every legal frame
// length starts with 0x00 (frames are at most 16 MiB by default); an
// unframed strict Thrift message begins 0x80 0x01, like a memcached binary
// request, so only framed Thrift is served. Each frame is one call of
// FunServant; its reply takes the call's place among the connection's
// replies like any other, so calls pipelined on one connection are
// answered in order, with their sequence ids. Calls that may wait (on an
// upstream or the disk: ThriftHandler.Blocks) run on the server's Thrift
// workers and answer through a reply slot; the others run on the event
// loop, with no goroutine or hand-off per call.

// ThriftHandler serves the Thrift front's calls.
type ThriftHandler interface {
	fae.FunServant
	// Blocks reports whether a call of m may wait on the network or the
	// disk; such calls run on the server's workers, never on an event
	// loop. It is called on the loop and must not block.
	Blocks(m thrift.Method) bool
}

// thriftFront is the Thrift front of one connection.
type thriftFront struct {
	h thrift.Header
}

// serveNext implements front.
func (tf *thriftFront) serveNext(cn *conn, out, buf []byte) ([]byte, int, step) {
	s := cn.s
	msg, n, err := thrift.ParseFrame(buf, s.cfg.MaxThriftFrame)
	if errors.Is(err, thrift.ErrIncomplete) {
		need := 0
		if len(buf) >= 4 {
			need = 4 + int(binary.BigEndian.Uint32(buf))
		}
		taken, ok := cn.await(buf, need)
		if !ok {
			return tf.refuseFrame(cn, out, buf, "faed: no room for more partial requests (max_partial)")
		}
		return out, taken, stepIncomplete
	}
	if err != nil {
		if int64(binary.BigEndian.Uint32(buf)) <= int64(s.cfg.MaxThriftFrame) {
			cn.closing = true // too short for a message
			return out, 0, stepNext
		}
		return tf.refuseFrame(cn, out, buf, fmt.Sprintf("frame of %d bytes is over the limit of %d (max_thrift_frame)",
			binary.BigEndian.Uint32(buf), s.cfg.MaxThriftFrame))
	}
	if err := thrift.ParseHeader(msg, &tf.h); err != nil {
		// No sequence id to answer with: the stream cannot be trusted.
		cn.closing = true
		return out, n, stepNext
	}
	if s.cfg.Thrift.Blocks(tf.h.Method) {
		return cn.thriftOffLoop(out, msg), n, stepNext
	}
	p := cn.loop.thriftProcessor()
	if len(cn.pending) == 0 {
		return p.Call(s.ctx, &tf.h, out), n, stepNext
	}
	return cn.reply(out, p.Call(s.ctx, &tf.h, cn.scratch())), n, stepNext
}

// refuseFrame answers the frame at the start of buf, which faed will not
// read (over max_thrift_frame, or no room under max_partial), with a
// TApplicationException saying why, once its header has arrived, and
// swallows the frame.
func (tf *thriftFront) refuseFrame(cn *conn, out, buf []byte, why string) ([]byte, int, step) {
	const maxName = 1024
	size := int64(binary.BigEndian.Uint32(buf))
	if len(buf) < 16 {
		return out, 0, stepIncomplete
	}
	nameLen := int64(binary.BigEndian.Uint32(buf[8:]))
	if nameLen > maxName {
		cn.closing = true
		return out, 0, stepNext
	}
	if int64(len(buf)) < 16+nameLen {
		return out, 0, stepIncomplete
	}
	if err := thrift.ParseHeader(buf[4:16+nameLen], &tf.h); err != nil {
		cn.closing = true
		return out, 0, stepNext
	}
	e := thrift.AppendException(cn.scratch(), tf.h.Name, tf.h.SeqID, thrift.ExceptionProtocolError, why)
	cn.swallow = int(4 + size)
	return cn.reply(out, e), 0, stepNext
}

// thriftOffLoop hands the call in msg to a worker and queues a slot for
// its reply, or answers at once that the workers are full.
func (cn *conn) thriftOffLoop(out, msg []byte) []byte {
	sl := cn.takeSlot()
	sl.cn = cn
	if !cn.s.workers.submit(sl, msg) {
		sl.cn = nil
		cn.spare = sl
		var h thrift.Header
		_ = thrift.ParseHeader(msg, &h)
		return cn.reply(out, thrift.AppendException(cn.scratch(), h.Name, h.SeqID, thrift.ExceptionInternalError,
			"faed: too many calls waiting (thrift_workers)"))
	}
	cn.inflight.Add(1)
	cn.s.inflight.Add(1)
	cn.pending = append(cn.pending, sl)
	return out
}

// thriftProcessor returns the loop's processor for the calls it runs.
func (l *loop) thriftProcessor() *thrift.Processor {
	if l.thrift == nil {
		l.thrift = thrift.NewProcessor(l.s.cfg.Thrift)
	}
	return l.thrift
}

// workers run the Thrift calls that may block, each with its own
// processor. The queue is bounded: a call that finds it full is answered
// with an exception at once rather than queued without bound.
type workers struct {
	jobs chan *thriftJob
	free sync.Pool // *thriftJob
	wg   sync.WaitGroup
}

// thriftJob is one call for a worker: a copy of its message (the frame's
// bytes in the connection's buffer are gone once the loop moves on) and
// the slot its reply goes to.
type thriftJob struct {
	sl  *slot
	msg []byte
	out []byte
}

// start runs n workers until stop; calls get ctx.
func (w *workers) start(ctx context.Context, h ThriftHandler, n, queue int) {
	w.jobs = make(chan *thriftJob, queue)
	for range n {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			p := thrift.NewProcessor(h)
			var hdr thrift.Header
			for j := range w.jobs {
				// The loop parsed this header already.
				_ = thrift.ParseHeader(j.msg, &hdr)
				j.out = p.Call(ctx, &hdr, j.out[:0])
				j.sl.Done(j.out)
				j.sl = nil
				if cap(j.msg) > maxKeptSlotBuf || cap(j.out) > maxKeptSlotBuf {
					continue
				}
				w.free.Put(j)
			}
		}()
	}
}

// submit queues msg's call for sl, unless the queue is full.
func (w *workers) submit(sl *slot, msg []byte) bool {
	if w.jobs == nil {
		return false
	}
	j, _ := w.free.Get().(*thriftJob)
	if j == nil {
		j = &thriftJob{}
	}
	j.sl, j.msg = sl, append(j.msg[:0], msg...)
	select {
	case w.jobs <- j:
		return true
	default:
		j.sl = nil
		w.free.Put(j)
		return false
	}
}

// stop lets the workers finish the queued calls and waits for them.
func (w *workers) stop() {
	if w.jobs != nil {
		close(w.jobs)
	}
	w.wg.Wait()
}
