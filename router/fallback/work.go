package fallback

import (
	"bytes"
	"strconv"
	"time"

	"github.com/fae-sidecar/fae/proto/memcache"
	"github.com/fae-sidecar/fae/router/spool"
	"github.com/fae-sidecar/fae/upstream"
)

// job is one request a worker serves from the embedded store.
type job struct {
	req     []byte // the request, encoded loud (encodeLoud)
	key     []byte // its item key
	home    string // the server the key is placed on (writes)
	w       upstream.Waiter
	write   bool // may change the item
	uncond  bool // an unconditional set or delete
	noReply bool
	quiet   bool
	cmd     memcache.Command
	// failLine is the server's failure line when the request failed
	// there; nil when it came to the worker directly.
	failLine []byte
}

// newJob copies what a job needs of req.
func (p *Pool) newJob(req *memcache.Request, key []byte, home string, w upstream.Waiter, write, uncond bool, failLine []byte) *job {
	return &job{
		req: encodeLoud(nil, req), key: append([]byte(nil), key...), home: home, w: w,
		write: write, uncond: uncond, noReply: req.NoReply, quiet: req.Meta.Quiet(), cmd: req.Cmd, failLine: failLine,
	}
}

// submitLocked queues j on sh's worker and marks its key in flight; sh.mu
// is held. It reports false when the queue is full or the pool closed.
func (p *Pool) submitLocked(sh *shard, j *job) bool {
	p.closeMu.RLock()
	defer p.closeMu.RUnlock()
	if p.closed {
		return false
	}
	select {
	case sh.jobs <- j:
	default:
		return false
	}
	p.stateOf(sh, j.key).inflight++
	return true
}

// work runs sh's jobs in order until the pool closes. The shard's lock is
// held only to read and update key states, never across the spool's
// fsync: an event loop looking a key up never waits for the disk.
func (p *Pool) work(sh *shard) {
	var req memcache.Request
	var out []byte
	for j := range sh.jobs {
		sh.mu.Lock()
		pending := sh.keys[string(j.key)].last != 0
		sh.mu.Unlock()
		var id uint64
		out, id = p.run(j, pending, &req, out[:0])
		sh.mu.Lock()
		st := sh.keys[string(j.key)]
		if id != 0 {
			st.last = id
		}
		st.inflight--
		p.tidy(sh, j.key, st, true)
		sh.mu.Unlock()
		reply := out
		switch {
		case j.noReply:
			reply = nil
		case j.quiet && memcache.MetaQuietDropCode(j.cmd, reply):
			reply = nil
		}
		j.w.Done(reply)
		if cap(out) > 64<<10 {
			out = nil
		}
	}
}

// run serves j from the embedded store, spooling what a write changed,
// and returns the reply and the spool id of the write (0: none). pending
// says whether the spool held writes of j's key when j started: then the
// embedded store holds the value the server will have.
func (p *Pool) run(j *job, pending bool, req *memcache.Request, out []byte) ([]byte, uint64) {
	if _, err := p.parser.Parse(j.req, req); err != nil {
		return append(out, lineNotFound...), 0 // cannot happen: the request was parsed once
	}
	if !j.write {
		p.st.localReads.Add(1)
		out, _ = p.local.Serve(req, out, nil)
		return out, 0
	}
	if !pending && !j.uncond {
		// A conditional write of a key whose value only the server knows.
		p.st.refused.Add(1)
		if j.failLine != nil {
			return append(out, j.failLine...), 0
		}
		return append(out, lineNotFound...), 0
	}
	sp := p.sp.Load()
	if sp == nil {
		p.st.spoolErrors.Add(1)
		return append(out, lineSpool...), 0
	}
	old, hadOld := p.snapshot(j.key)
	mark := len(out)
	out, _ = p.local.Serve(req, out, nil)
	reply := out[mark:]
	if !j.uncond && !changed(reply) {
		return out, 0 // NOT_STORED, NOT_FOUND, EXISTS...: nothing to replay
	}
	op, ok := p.spoolOp(j.key, j.home)
	if !ok {
		p.restore(j.key, old, hadOld)
		p.st.refused.Add(1)
		return append(out[:mark], lineNotFound...), 0
	}
	id, err := sp.Append(p.ctx, op)
	if err != nil {
		p.restore(j.key, old, hadOld)
		p.st.spoolErrors.Add(1)
		p.logSpoolError(j, err)
		return append(out[:mark], lineSpool...), 0
	}
	p.st.spooled.Add(1)
	if !pending && bytes.HasPrefix(reply, []byte("NOT_FOUND")) {
		// A delete of a key only the server knows: memcached would most
		// likely have found it; what replays is the delete.
		return append(out[:mark], "DELETED\r\n"...), id
	}
	if !pending && bytes.HasPrefix(reply, []byte("NF")) {
		return append(append(out[:mark], "HD"...), reply[2:]...), id
	}
	return out, id
}

// changed reports whether a reply says the command changed its item.
func changed(r []byte) bool {
	for _, p := range []string{"STORED", "DELETED", "TOUCHED", "HD", "VA ", "VALUE "} {
		if bytes.HasPrefix(r, []byte(p)) {
			return true
		}
	}
	return len(r) > 0 && r[0] >= '0' && r[0] <= '9'
}

// item is a key's state in the embedded store.
type item struct {
	flags uint64
	ttl   int64 // seconds left, -1 for none
	value []byte
}

// snapshot reads key's item from the embedded store.
func (p *Pool) snapshot(key []byte) (item, bool) {
	var req memcache.Request
	req.Cmd = memcache.CmdMetaGet
	req.Keys = [][]byte{key}
	for _, f := range []byte("vft") {
		req.Meta.AddFlag(f)
	}
	r, _ := p.local.Serve(&req, nil, nil)
	if !bytes.HasPrefix(r, []byte("VA ")) {
		return item{}, false
	}
	head, data, _ := bytes.Cut(r, []byte("\r\n"))
	it := item{ttl: -1}
	fields := bytes.Fields(head)
	n, err := strconv.Atoi(string(fields[1]))
	if err != nil || n > len(data) {
		return item{}, false
	}
	it.value = data[:n]
	for _, f := range fields[2:] {
		v, err := strconv.ParseInt(string(f[1:]), 10, 64)
		if err != nil {
			continue
		}
		switch f[0] {
		case 'f':
			it.flags = uint64(v)
		case 't':
			it.ttl = v
		}
	}
	return it, true
}

// textKey reports whether key can be sent in a classic command.
func textKey(key []byte) bool {
	if len(key) == 0 || len(key) > memcache.DefaultMaxKeyLen {
		return false
	}
	for _, c := range key {
		if c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

// setLine appends a set of key to b, with an absolute exptime (now is the
// Unix time).
func setLine(b, key []byte, it item, now int64) []byte {
	exp := int64(0)
	if it.ttl >= 0 {
		exp = now + it.ttl
	}
	b = append(append(append(b, "set "...), key...), ' ')
	b = strconv.AppendUint(b, it.flags, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, exp, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(len(it.value)), 10)
	b = append(b, "\r\n"...)
	b = append(b, it.value...)
	return append(b, "\r\n"...)
}

// spoolOp is the write that gives key on the server its state in the
// embedded store: a set with an absolute exptime, or a delete. Both
// supersede the key's older entries.
func (p *Pool) spoolOp(key []byte, home string) (spool.Op, bool) {
	if !textKey(key) {
		return spool.Op{}, false
	}
	op := spool.Op{Pool: p.cfg.Pool, Server: home, Key: key, Supersedes: true}
	if it, ok := p.snapshot(key); ok {
		op.Request = setLine(nil, key, it, p.cfg.Now().Unix())
	} else {
		op.Request = append(append([]byte("delete "), key...), "\r\n"...)
	}
	return op, true
}

// restore puts key's item back as it was before a write that could not be
// spooled.
func (p *Pool) restore(key []byte, it item, had bool) {
	if !had || !textKey(key) {
		p.localDelete(key)
		return
	}
	var req memcache.Request
	if _, err := p.parser.Parse(setLine(nil, key, it, p.cfg.Now().Unix()), &req); err == nil {
		p.local.Serve(&req, nil, nil)
	}
}

// localDelete drops key from the embedded store.
func (p *Pool) localDelete(key []byte) {
	var req memcache.Request
	req.Cmd = memcache.CmdDelete
	req.Keys = [][]byte{key}
	p.local.Serve(&req, nil, nil)
}

// logSpoolError logs a write the spool refused, at most once a second
// (a full disk refuses them all), with the count so far.
func (p *Pool) logSpoolError(j *job, err error) {
	now := p.cfg.Now().UnixNano()
	last := p.lastLog.Load()
	if now-last < int64(time.Second) || !p.lastLog.CompareAndSwap(last, now) {
		return
	}
	p.log.Warn("fallback: write not spooled: answered SERVER_ERROR", "server", j.home, "key", string(j.key),
		"error", err, "refused_so_far", p.st.spoolErrors.Load())
}
