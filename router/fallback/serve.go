package fallback

import (
	"github.com/fae-sidecar/fae/eventloop"
	"github.com/fae-sidecar/fae/proto/memcache"
	"github.com/fae-sidecar/fae/upstream"
)

// Lines the fallback answers itself.
var (
	lineSpool    = []byte("SERVER_ERROR fallback spool unavailable\r\n")
	lineBusy     = []byte("SERVER_ERROR fallback queue full\r\n")
	lineNotFound = []byte("SERVER_ERROR fallback cannot replay this write\r\n")
)

var _ upstream.Pool = (*Pool)(nil)

// Serve implements upstream.Pool.
func (p *Pool) Serve(req *memcache.Request, out []byte, w upstream.Waiter) ([]byte, bool) {
	switch c := req.Cmd; {
	case c == memcache.CmdMetaDebug || c == memcache.CmdMetaNoop || !c.HasKey():
		return p.next.Serve(req, out, w)
	case c.IsRetrieval():
		if p.pending.Load() == 0 {
			return p.next.Serve(req, out, w)
		}
		return p.serveRead(req, out, w)
	case len(req.Keys) != 1:
		return p.next.Serve(req, out, w)
	}
	return p.serveOne(req, out, w)
}

// isWrite reports whether req may change its item (the router's rule: an
// mg only with N, T or R).
func isWrite(req *memcache.Request) bool {
	switch req.Cmd {
	case memcache.CmdGet, memcache.CmdGets:
		return false
	case memcache.CmdMetaGet:
		return req.Meta.Has('N') || req.Meta.Has('T') || req.Meta.Has('R')
	}
	return true
}

// unconditional reports whether req sets or deletes its item whatever the
// item was: its effect can be applied and replayed without knowing the
// server's value.
func unconditional(req *memcache.Request) bool {
	switch req.Cmd {
	case memcache.CmdSet, memcache.CmdDelete:
		return true
	case memcache.CmdMetaSet:
		m := req.Meta.Mode
		return (m == 0 || m == 'S' || m == 's') && !req.Meta.Has('C') && !req.Meta.Has('I')
	case memcache.CmdMetaDelete:
		return !req.Meta.Has('C') && !req.Meta.Has('I')
	}
	return false
}

// itemKey returns req's item key (decoded when sent in base64).
func itemKey(req *memcache.Request) []byte {
	var buf [memcache.MaxMetaKey]byte
	k, decoded := req.ItemKey(buf[:])
	if decoded {
		return append([]byte(nil), k...)
	}
	return k
}

// serveOne serves a single-key request: to the key's worker when the key
// is pending (or an unconditional write whose server has a spool), else to
// the server, watching for a failure.
func (p *Pool) serveOne(req *memcache.Request, out []byte, w upstream.Waiter) ([]byte, bool) {
	key := itemKey(req)
	write := isWrite(req)
	uncond := write && unconditional(req)
	var home string
	if write {
		home = p.next.Home(key)
	}
	spooling := false
	if uncond {
		if sp := p.sp.Load(); sp != nil && sp.Len(home) > 0 {
			spooling = true
		}
	}
	sh := p.shardOf(key)
	sh.mu.Lock()
	st := sh.keys[string(key)]
	// A key that is local goes to its worker. So does an unconditional
	// write while its server has a spool, unless a write of the key is on
	// its way to the server: then it follows on the same connection, so
	// that if both fail they reach the worker in order.
	toWorker := st != nil && st.local() || spooling && (st == nil || st.upstream == 0)
	if !toWorker && !write {
		sh.mu.Unlock()
		return p.next.Serve(req, out, w)
	}
	if toWorker {
		j := p.newJob(req, key, home, w, write, uncond, nil)
		if !p.submitLocked(sh, j) {
			sh.mu.Unlock()
			return p.answerNow(out, req, lineBusy), false
		}
		sh.mu.Unlock()
		return out, true
	}
	// To the server, with a waiter that sees its failure.
	p.stateOf(sh, key).upstream++
	sh.mu.Unlock()
	wt := p.watches.Get().(*watch)
	wt.w, wt.lw = w, nil
	if lw, ok := w.(upstream.LoopWaiter); ok {
		wt.lw = lw
	}
	wt.req = encodeLoud(wt.req[:0], req)
	wt.key = append(wt.key[:0], key...)
	wt.home, wt.uncond, wt.noReply, wt.quiet, wt.cmd = home, uncond, req.NoReply, req.Meta.Quiet(), req.Cmd
	sub := *req
	sub.NoReply = false
	mark := len(out)
	out, async := p.next.Serve(&sub, out, wt)
	if async {
		return out, true
	}
	// Answered at once (the server is known down, its queue full...).
	if p.answered(wt, out[mark:]) {
		return out[:mark], true
	}
	if req.NoReply {
		return out[:mark], false
	}
	return out, false
}

// answerNow appends line to out unless req asked for no reply.
func (p *Pool) answerNow(out []byte, req *memcache.Request, line []byte) []byte {
	if req.NoReply {
		return out
	}
	return append(out, line...)
}

// encodeLoud appends req as the embedded store is to run it: asking for a
// reply (no noreply, no q), the fallback applying the client's wish.
func encodeLoud(b []byte, req *memcache.Request) []byte {
	r := *req
	r.NoReply = false
	r.Meta.Set &^= 1 << ('q' - 'A')
	r.Meta.Fence = false
	return memcache.AppendRequest(b, &r)
}

// watch is the waiter of a write sent to the server: it passes the reply
// on, or on the pool's failure line hands the write to its worker.
type watch struct {
	p       *Pool
	w       upstream.Waiter
	lw      upstream.LoopWaiter
	req     []byte // the request, encoded loud
	key     []byte
	home    string
	uncond  bool
	noReply bool
	quiet   bool
	cmd     memcache.Command
}

var (
	_ upstream.LoopWaiter = (*watch)(nil)
	_ upstream.Settler    = (*watch)(nil)
)

func (wt *watch) Loop() eventloop.Loop {
	if wt.lw == nil {
		return nil
	}
	return wt.lw.Loop()
}

func (wt *watch) Settled() bool { return upstream.Settled(wt.w) }

func (wt *watch) Done(reply []byte)       { wt.p.watched(wt, reply, false) }
func (wt *watch) DoneOnLoop(reply []byte) { wt.p.watched(wt, reply, true) }

func (p *Pool) watched(wt *watch, reply []byte, onLoop bool) {
	w, lw, noReply := wt.w, wt.lw, wt.noReply
	if p.answered(wt, reply) {
		return
	}
	if noReply {
		reply = nil
	}
	if onLoop && lw != nil {
		lw.DoneOnLoop(reply)
		return
	}
	w.Done(reply)
}

// answered settles the server's reply to wt's write: when it is the
// pool's failure line, the write is handed to the key's worker and
// answered reports true; else the caller passes the reply on. wt is
// recycled either way.
func (p *Pool) answered(wt *watch, reply []byte) bool {
	unreached := p.next.Unreached(reply)
	sh := p.shardOf(wt.key)
	sh.mu.Lock()
	st := sh.keys[string(wt.key)]
	st.upstream--
	taken := false
	if unreached {
		j := &job{
			req: append([]byte(nil), wt.req...), key: append([]byte(nil), wt.key...), home: wt.home,
			w: wt.w, write: true, uncond: wt.uncond, noReply: wt.noReply, quiet: wt.quiet, cmd: wt.cmd,
			failLine: append([]byte(nil), reply...),
		}
		taken = p.submitLocked(sh, j)
	}
	p.tidy(sh, wt.key, st, false)
	sh.mu.Unlock()
	p.putWatch(wt)
	return taken
}

func (p *Pool) putWatch(wt *watch) {
	wt.w, wt.lw = nil, nil
	if cap(wt.req) > 64<<10 {
		wt.req = nil
	}
	p.watches.Put(wt)
}
