package main_test

// The clients of TestStressStalledServers (stress_test.go).

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/fae-sidecar/fae/proto/mcbin"
)

// pipe is one connection of a pipelining client: the sending goroutine
// writes batches and queues what each request waits for on inflight
// (stressWindow batches at most); the receiving goroutine reads the
// replies in order and judges them. A reply that is not its request's own
// may leave the stream out of step, so the receiver then drops the
// connection and the client dials again.
type pipe struct {
	r       *stressRun
	who     string
	c       net.Conn
	br      *bufio.Reader
	dropped atomic.Bool // the receiver hung up: do not report the I/O errors
	broken  atomic.Bool // an I/O error was reported: stop the client
}

// runPipe dials faed and runs send and recv on the connection until the
// run stops or the connection ends. It reports whether the client should
// dial again (the receiver dropped the connection after a wrong reply).
func runPipe[T any](r *stressRun, who string, send func(p *pipe, inflight chan<- T) bool, recv func(p *pipe, inflight <-chan T)) bool {
	c, ok := r.dialStress(who)
	if !ok {
		return false
	}
	defer c.Close()
	p := &pipe{r: r, who: who, c: c, br: bufio.NewReaderSize(c, 64<<10)}
	inflight := make(chan T, stressWindow*(stressBatch+1))
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer drain(inflight) // the sender never blocks
		recv(p, inflight)
	}()
	for !r.stop.Load() && !p.dropped.Load() && !p.broken.Load() && send(p, inflight) {
	}
	close(inflight)
	<-done
	return p.dropped.Load() && !p.broken.Load() && !r.stop.Load()
}

// drain empties ch until it is closed.
func drain[T any](ch <-chan T) {
	for range ch {
	}
}

// write sends a batch.
func (p *pipe) write(b []byte) bool {
	p.c.SetWriteDeadline(time.Now().Add(stressIOTimeout))
	if _, err := p.c.Write(b); err != nil {
		p.ioFailed(err)
		return false
	}
	return true
}

// ioFailed reports the first I/O error, unless the receiver hung up on
// purpose.
func (p *pipe) ioFailed(err error) {
	if !p.dropped.Load() && p.broken.CompareAndSwap(false, true) {
		p.r.ioFailed(p.who, err)
	}
}

// drop hangs up after a wrong reply.
func (p *pipe) drop() {
	p.dropped.Store(true)
	p.c.Close()
}

// textSent is what a text request waits for.
type textSent struct {
	keys []string
	set  *setRec // nil for a get
}

// textClient pipelines batches of sets of its own keys, gets and
// multi-gets of anyone's keys, over every pool.
func (r *stressRun) textClient(id int, rng *rand.Rand) {
	who := writerID('t', id)
	sets := setLog{}
	defer r.keep(sets)
	seq := 0
	send := func(p *pipe, inflight chan<- textSent) bool {
		var buf []byte
		for range stressBatch {
			pool := rng.IntN(len(stressPools))
			var ts textSent
			switch x := rng.IntN(100); {
			case x < 35:
				key := ownKey(pool, who, rng)
				v := stressValue(key, who, seq, rng)
				seq++
				buf = fmt.Appendf(buf, "set %s 0 0 %d\r\n%s\r\n", key, len(v), v)
				ts = textSent{keys: []string{key}, set: sets.add(key, v)}
			case x < 80:
				key := anyKey(pool, rng)
				buf = fmt.Appendf(buf, "get %s\r\n", key)
				ts = textSent{keys: []string{key}}
			default: // keys spread over the pool's servers
				keys := make([]string, 2+rng.IntN(5))
				for i := range keys {
					keys[i] = anyKey(pool, rng)
				}
				buf = fmt.Appendf(buf, "get %s\r\n", strings.Join(keys, " "))
				ts = textSent{keys: keys}
			}
			inflight <- ts
		}
		return p.write(buf)
	}
	recv := func(p *pipe, inflight <-chan textSent) {
		for ts := range inflight {
			p.c.SetReadDeadline(time.Now().Add(stressIOTimeout))
			rep, err := readTextReply(p.br)
			if err != nil {
				p.ioFailed(err)
				p.c.Close()
				return
			}
			var v verdict
			if ts.set == nil {
				v = judgeGet(ts.keys, rep)
			} else if v = judgeSet(ts.keys[0], rep); v == (verdict{}) {
				ts.set.acked = true
			}
			r.tally(ts.keys[0], v)
			if v.wrong != "" {
				p.drop()
				return
			}
		}
	}
	for runPipe(r, who, send, recv) {
	}
}

// binSent is what a binary request waits for.
type binSent struct {
	op     mcbin.Opcode
	opaque uint32
	key    string
	set    *setRec // nil but for set and setq
}

// binClient pipelines batches of getk, getkq (anyone's keys), set and
// setq (its own keys), each batch ended by a noop, over every pool, and
// pairs every response with its request by opaque.
func (r *stressRun) binClient(id int, rng *rand.Rand) {
	who := writerID('b', id)
	sets := setLog{}
	defer r.keep(sets)
	var opaque uint32
	seq := 0
	send := func(p *pipe, inflight chan<- binSent) bool {
		var buf []byte
		for range stressBatch {
			pool := rng.IntN(len(stressPools))
			opaque++
			s := binSent{opaque: opaque}
			req := mcbin.Request{Opaque: opaque}
			if rng.IntN(100) < 35 {
				s.op = pick(rng, mcbin.OpSet, mcbin.OpSetQ)
				s.key = ownKey(pool, who, rng)
				v := stressValue(s.key, who, seq, rng)
				seq++
				s.set = sets.add(s.key, v)
				req.Value = []byte(v)
			} else {
				s.op = pick(rng, mcbin.OpGetK, mcbin.OpGetKQ)
				s.key = anyKey(pool, rng)
			}
			req.Opcode, req.Key = s.op, []byte(s.key)
			buf = mcbin.AppendRequest(buf, &req)
			inflight <- s
		}
		// The noop's response comes after the quiet ones' answers,
		// if any: the quiet requests before it that got none passed.
		opaque++
		buf = mcbin.AppendRequest(buf, &mcbin.Request{Opcode: mcbin.OpNoop, Opaque: opaque})
		inflight <- binSent{op: mcbin.OpNoop, opaque: opaque}
		return p.write(buf)
	}
	recv := func(p *pipe, inflight <-chan binSent) {
		var resp *mcbin.Response
		for s := range inflight {
			if resp == nil {
				var err error
				p.c.SetReadDeadline(time.Now().Add(stressIOTimeout))
				if resp, err = readBinResponse(p.br); err != nil {
					p.ioFailed(err)
					p.c.Close()
					return
				}
			}
			if resp.Opaque != s.opaque && s.op.Quiet() {
				// No response: a quiet set stored, a quiet get missed.
				if s.set != nil {
					s.set.acked = true
				}
				r.tally(s.key, verdict{})
				continue
			}
			var v verdict
			if resp.Opaque != s.opaque {
				v.wrong = fmt.Sprintf("%s %s (opaque %d): got the response to opaque %d: %s", s.op, s.key, s.opaque, resp.Opaque, describeResponse(resp))
			} else if v = judgeBinary(s, resp); v == (verdict{}) && s.set != nil {
				s.set.acked = true
			}
			resp = nil
			if s.op != mcbin.OpNoop || v.wrong != "" {
				r.tally(s.key, v)
			}
			if v.wrong != "" {
				p.drop()
				return
			}
		}
	}
	for runPipe(r, who, send, recv) {
	}
}

// syncClient sets one of its keys and reads it back, one request at a
// time: the read must find the value it just stored (or one whose set's
// outcome it does not know).
func (r *stressRun) syncClient(id int, rng *rand.Rand) {
	who := writerID('s', id)
	sets := setLog{}
	defer r.keep(sets)
	c, ok := r.dialStress(who)
	if !ok {
		return
	}
	defer c.Close()
	br := bufio.NewReaderSize(c, 64<<10)
	roundTrip := func(req string) (textReply, bool) {
		c.SetDeadline(time.Now().Add(stressIOTimeout))
		_, err := io.WriteString(c, req)
		if err == nil {
			var rep textReply
			if rep, err = readTextReply(br); err == nil {
				return rep, true
			}
		}
		r.ioFailed(who, err)
		return textReply{}, false
	}
	for seq := 0; !r.stop.Load(); seq++ {
		p := rng.IntN(len(stressPools))
		key := ownKey(p, who, rng)
		value := stressValue(key, who, seq, rng)
		set := sets.add(key, value)
		rep, ok := roundTrip(fmt.Sprintf("set %s 0 0 %d\r\n%s\r\n", key, len(value), value))
		if !ok {
			return
		}
		v := judgeSet(key, rep)
		set.acked = v == (verdict{})
		r.tally(key, v)
		if v.wrong != "" {
			return // the stream may be out of step
		}
		if rep, ok = roundTrip("get " + key + "\r\n"); !ok {
			return
		}
		v = judgeGet([]string{key}, rep)
		r.tally(key, v)
		if v.wrong != "" {
			return
		}
		if v.failed != "" {
			continue
		}
		got, found := "", len(rep.values) > 0
		if found {
			got = rep.values[0].data
		}
		if ok, _ := setHeld(sets[key], got, found); !ok {
			pt := &r.tallies[p]
			pt.stale.Add(1)
			pt.mu.Lock()
			pt.samples = keepSample(pt.samples, fmt.Sprintf("stale read: get %s after its sets %s: %s", key, describeSets(sets[key]), rep))
			pt.mu.Unlock()
		}
	}
}

func pick(rng *rand.Rand, a, b mcbin.Opcode) mcbin.Opcode {
	if rng.IntN(2) == 0 {
		return a
	}
	return b
}

// readBinResponse reads one response packet.
func readBinResponse(br *bufio.Reader) (*mcbin.Response, error) {
	hdr, err := br.Peek(mcbin.HeaderLen)
	if err != nil {
		return nil, err
	}
	pkt := make([]byte, mcbin.HeaderLen+int(binary.BigEndian.Uint32(hdr[8:])))
	if _, err := io.ReadFull(br, pkt); err != nil {
		return nil, err
	}
	var resp mcbin.Response
	if _, err := mcbin.ParseResponse(pkt, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// judgeBinary judges the response to s, whose opaque it has: its opcode;
// a set's success, a getk's hit naming the key it asked for, a loud
// getk's miss with its key; or a pool's SERVER_ERROR.
func judgeBinary(s binSent, resp *mcbin.Response) verdict {
	good := false
	switch {
	case resp.Opcode != s.op:
	case resp.Status == mcbin.StatusInternalError:
		if addr := upstreamAddr("SERVER_ERROR " + string(resp.Value)); addr != "" {
			return verdict{failed: addr}
		}
	case s.op.Base() == mcbin.OpSet:
		good = resp.Status == mcbin.StatusOK && len(resp.Key) == 0 && len(resp.Value) == 0
	case s.op.Base() == mcbin.OpGetK:
		good = string(resp.Key) == s.key &&
			(resp.Status == mcbin.StatusOK && names(s.key, string(resp.Value)) ||
				resp.Status == mcbin.StatusKeyNotFound && !s.op.Quiet())
	case s.op == mcbin.OpNoop:
		good = resp.Status == mcbin.StatusOK
	}
	if good {
		return verdict{}
	}
	return verdict{wrong: fmt.Sprintf("%s %s: %s", s.op, s.key, describeResponse(resp))}
}

func describeResponse(resp *mcbin.Response) string {
	return fmt.Sprintf("opcode %s status %#x key %q value %q", resp.Opcode, uint16(resp.Status), resp.Key, shorten(string(resp.Value)))
}
