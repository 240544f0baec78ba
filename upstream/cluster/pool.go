package cluster

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/fae-sidecar/fae/peers/ring"
	"github.com/fae-sidecar/fae/proto/memcache"
	"github.com/fae-sidecar/fae/upstream"
)

// MaxReplicas bounds Config.Replicas: a key's owners are looked up into an
// array of this size on the stack.
const MaxReplicas = 8

// Links reaches the other sidecars.
type Links interface {
	// Link returns the pool that forwards requests to the sidecar whose
	// peer address is addr, or nil when there is none (not a known peer).
	// Requests that arrive there are served locally, never forwarded again.
	Link(addr string) upstream.Pool
}

// Locker holds this sidecar's own leases (the lock servant).
type Locker interface {
	TextLock(key []byte, ttl time.Duration) (token string, ok bool, err error)
	TextUnlock(key, token []byte) bool
}

// Config configures a Pool.
type Config struct {
	// Self is this sidecar's peer address: its node name on the ring.
	Self string
	// Replicas is the number of owners of each key (1..MaxReplicas).
	Replicas int
	// Ring is the ring in force; the daemon swaps it on every membership
	// change. It always holds Self.
	Ring *ring.Table
	// Local is the pool's own store (upstream/local), which the peer port
	// serves too.
	Local upstream.Pool
	// Links forwards to the other owners.
	Links Links
	// Locks holds the leases whose key this sidecar is the primary owner of.
	Locks Locker
}

// ErrReplicas is returned by New for Replicas out of range.
var ErrReplicas = errors.New("cluster: replicas must be 1..8")

// Pool is a cluster pool. Safe for concurrent use.
type Pool struct {
	cfg Config

	forwarded atomic.Uint64 // requests (or keys of a multi-get) sent to a peer
	repairs   atomic.Uint64 // values set back at an owner that missed them
	peerFails atomic.Uint64 // peer calls that failed (down, timeout)
	served    atomic.Uint64 // requests served
}

// New returns the pool of cfg.
func New(cfg Config) (*Pool, error) {
	if cfg.Replicas < 1 || cfg.Replicas > MaxReplicas {
		return nil, ErrReplicas
	}
	if cfg.Self == "" || cfg.Ring == nil || cfg.Local == nil || cfg.Links == nil {
		return nil, errors.New("cluster: Self, Ring, Local and Links are required")
	}
	return &Pool{cfg: cfg}, nil
}

// Owners returns the owners of key on the ring in force, its primary
// first (a new slice).
func (p *Pool) Owners(key []byte) []string {
	return p.owners(p.cfg.Ring.Load(), key, nil)
}

// Local returns the pool's own store, which the peer port serves.
func (p *Pool) Local() upstream.Pool { return p.cfg.Local }

// Stats implements upstream.Pool: the local store's statistics and the
// pool's own.
func (p *Pool) Stats(add func(name string, value uint64)) {
	p.cfg.Local.Stats(add)
	add("cluster_served", p.served.Load())
	add("cluster_forwarded", p.forwarded.Load())
	add("cluster_repairs", p.repairs.Load())
	add("cluster_peer_failures", p.peerFails.Load())
}

// Close implements upstream.Pool. The links belong to the daemon.
func (p *Pool) Close() error { return p.cfg.Local.Close() }

var (
	replyNoFlush = []byte("SERVER_ERROR flush_all is not served by a cluster pool\r\n")
	replyNoOwner = []byte("SERVER_ERROR cluster: no live owner\r\n")
)

// Serve implements upstream.Pool.
func (p *Pool) Serve(req *memcache.Request, out []byte, w upstream.Waiter) ([]byte, bool) {
	p.served.Add(1)
	if len(req.Keys) == 0 {
		if req.Cmd == memcache.CmdFlushAll {
			if req.NoReply {
				return out, false
			}
			return append(out, replyNoFlush...), false
		}
		return append(out, memcache.ReplyError...), false
	}
	r := p.cfg.Ring.Load()
	switch req.Cmd {
	case memcache.CmdGet, memcache.CmdGets:
		if len(req.Keys) > 1 {
			return p.serveMulti(r, req, out, w)
		}
		return p.serveRead(r, req, out, w)
	case memcache.CmdLock, memcache.CmdUnlock:
		return p.serveLock(r, req, out, w)
	case memcache.CmdGat, memcache.CmdGats:
		// A touch: every owner's ttl changes, as a write's.
		if len(req.Keys) > 1 {
			return p.serveTouchMulti(r, req, out, w)
		}
	case memcache.CmdMetaGet:
		if !mayChange(req) {
			return p.serveMetaRead(r, req, out, w)
		}
	}
	return p.serveWrite(r, req, out, w)
}

// mayChange reports whether an mg may change its item (N, T or R), which
// makes it a write.
func mayChange(req *memcache.Request) bool {
	return req.Meta.Has('N') || req.Meta.Has('T') || req.Meta.Has('R')
}

// owners appends the owners of req's key on r to dst.
func (p *Pool) owners(r *ring.Ring, key []byte, dst []string) []string {
	dst = r.Owners(key, p.cfg.Replicas, dst)
	if len(dst) == 0 {
		dst = append(dst, p.cfg.Self)
	}
	return dst
}

// itemKey is the key req is placed by (a meta command's decoded key).
func itemKey(req *memcache.Request, buf *[memcache.MaxMetaKey]byte) []byte {
	key, _ := req.ItemKey(buf[:])
	return key
}

// forward sends req to the first owner with a link; it answers then.
func (p *Pool) forward(owners []string, req *memcache.Request, out []byte, w upstream.Waiter) ([]byte, bool) {
	for _, o := range owners {
		if l := p.cfg.Links.Link(o); l != nil {
			p.forwarded.Add(1)
			return l.Serve(req, out, w)
		}
	}
	p.peerFails.Add(1)
	if req.NoReply {
		return out, false
	}
	return append(out, replyNoOwner...), false
}

// serveLock takes or gives back a lease at the key's primary owner.
func (p *Pool) serveLock(r *ring.Ring, req *memcache.Request, out []byte, w upstream.Waiter) ([]byte, bool) {
	var ob [MaxReplicas]string
	owners := p.owners(r, req.Keys[0], ob[:0])
	if owners[0] != p.cfg.Self {
		return p.forward(owners[:1], req, out, w)
	}
	if p.cfg.Locks == nil {
		return append(out, memcache.ReplyError...), false
	}
	return AppendLock(out, p.cfg.Locks, req), false
}

// AppendLock appends the reply of lock or unlock req served by l, as the
// text verbs answer it (docs/PROTOCOL.md).
func AppendLock(out []byte, l Locker, req *memcache.Request) []byte {
	if req.Cmd == memcache.CmdUnlock {
		return memcache.AppendUnlock(out, l.TextUnlock(req.Keys[0], req.Args[0]))
	}
	token, ok, err := l.TextLock(req.Keys[0], time.Duration(req.Delta)*time.Millisecond)
	return memcache.AppendLock(out, token, ok, err)
}
