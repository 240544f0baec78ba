package router

import (
	"fmt"
	"sync/atomic"

	"github.com/fae-sidecar/fae/proto/memcache"
	"github.com/fae-sidecar/fae/upstream"
)

// Mode is what a pool accepts: everything (Normal) or reads only
// (ReadOnly). An operator sets it with [Router.SetMode]; the resilience
// layer shares the same switch.
type Mode uint32

// Modes of a pool.
const (
	Normal Mode = iota
	ReadOnly
)

// modeNames are the modes as the admin API and the logs write them.
var modeNames = [...]string{Normal: "normal", ReadOnly: "readonly"}

func (m Mode) String() string {
	if int(m) < len(modeNames) {
		return modeNames[m]
	}
	return fmt.Sprintf("Mode(%d)", uint32(m))
}

// ParseMode reads "normal" or "readonly".
func ParseMode(s string) (Mode, error) {
	for m, n := range modeNames {
		if s == n {
			return Mode(m), nil
		}
	}
	return 0, fmt.Errorf("mode %q: use normal or readonly", s)
}

// replyReadOnly answers a write to a read-only pool.
const replyReadOnly = "SERVER_ERROR pool is read-only\r\n"

// pool is one pool as the router serves it, with its mode. Its Serve
// refuses writes while the pool is read-only: one atomic load per request,
// and the command's class looked at only when read-only.
type pool struct {
	upstream.Pool
	name    string
	mode    atomic.Uint32
	refused atomic.Uint64 // writes refused while read-only
}

func (p *pool) Serve(req *memcache.Request, out []byte, w upstream.Waiter) ([]byte, bool) {
	if Mode(p.mode.Load()) == ReadOnly && isWrite(req) {
		p.refused.Add(1)
		if req.NoReply {
			return out, false // as the pools drop their own errors for noreply
		}
		return append(out, replyReadOnly...), false
	}
	return p.Pool.Serve(req, out, w)
}

// Stats adds the writes refused while read-only to the pool's statistics.
func (p *pool) Stats(add func(string, uint64)) {
	p.Pool.Stats(add)
	add("readonly_refused", p.refused.Load())
}

// isWrite reports whether req may change what a pool stores: the storage
// commands and ms, delete and md, incr, decr and ma, touch, gat and gats
// (they change an item's expiry), flush_all, and an mg that may create (N)
// or touch (T) its item. Other retrievals, mg included, are reads.
func isWrite(req *memcache.Request) bool {
	switch c := req.Cmd; {
	case c == memcache.CmdGet, c == memcache.CmdGets:
		return false
	case c == memcache.CmdMetaGet:
		return req.Meta.Has('N') || req.Meta.Has('T')
	case c == memcache.CmdMetaNoop, c == memcache.CmdMetaDebug:
		return false
	default:
		return c.HasKey() || c == memcache.CmdFlushAll
	}
}

// SetMode sets the mode of the pool named name; it takes effect for the
// next request. It is safe for concurrent use with Serve.
func (r *Router) SetMode(name string, m Mode) error {
	p := r.byName[name]
	if p == nil {
		return fmt.Errorf("router: no pool %q", name)
	}
	if m != Normal && m != ReadOnly {
		return fmt.Errorf("router: %v is not a mode", m)
	}
	p.mode.Store(uint32(m))
	return nil
}

// Mode returns the mode of the pool named name; false when there is none.
func (r *Router) Mode(name string) (Mode, bool) {
	p := r.byName[name]
	if p == nil {
		return Normal, false
	}
	return Mode(p.mode.Load()), true
}
