package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fae-sidecar/fae/conf"
	"github.com/fae-sidecar/fae/peers"
	"github.com/fae-sidecar/fae/peers/auth"
	"github.com/fae-sidecar/fae/peers/ring"
	"github.com/fae-sidecar/fae/proto/memcache"
	"github.com/fae-sidecar/fae/server"
	"github.com/fae-sidecar/fae/upstream"
	"github.com/fae-sidecar/fae/upstream/cluster"
	mc "github.com/fae-sidecar/fae/upstream/memcache"
)

// clusterNet is this sidecar's side of the cluster pools: the ring in
// force, a peer link per known peer, and the peer port. Peer links are
// memcache pools of one server, the peer's port, whose connections pass
// the handshake (dial); one link per peer serves every cluster pool (the
// peer routes a key to its pool's store as this one does). A link is made
// when its peer first comes up and closed when the membership forgets it;
// when the peer comes up again its link dials at once (Redial); a down
// peer's link fails fast (its pipeline knows it is down) while the
// ring, rebuilt without it, sends its keys to the next owners.
type clusterNet struct {
	self    string
	auth    *auth.Auth
	ring    ring.Table
	timeout time.Duration
	log     *slog.Logger

	links atomic.Pointer[map[string]*mc.Pool] // by peer address; replaced, never changed
	locks atomic.Pointer[cluster.Locker]      // the lock servant, once built

	mu     sync.Mutex // serializes changes (OnChange is one goroutine; Close another)
	up     map[string]bool
	closed bool

	retiring sync.WaitGroup // links being closed off OnChange's goroutine; close waits
}

// retire closes a link the links in force no longer hold, on a goroutine
// of its own (OnChange must return quickly) that close waits for. A request
// an event loop still hands it is answered "pool closed", a failure.
func (cn *clusterNet) retire(l *mc.Pool) {
	cn.retiring.Go(func() { _ = l.Close() })
}

// newClusterNet returns the cluster state of cfg, nil without peers.
func newClusterNet(cfg *conf.Config, log *slog.Logger) (*clusterNet, error) {
	if cfg.Peers == nil {
		return nil, nil
	}
	secret, err := cfg.Peers.LoadSecret()
	if err != nil {
		return nil, fmt.Errorf("peers: %w", err)
	}
	a, err := auth.New(auth.Config{Secret: secret})
	if err != nil {
		return nil, fmt.Errorf("peers: %w", err)
	}
	cn := &clusterNet{self: cfg.Peers.Listen, auth: a, timeout: 500 * time.Millisecond, log: log, up: map[string]bool{}}
	for _, pc := range cfg.Pools {
		if pc.Kind == conf.KindCluster {
			cn.timeout = pc.Timeout.D()
		}
	}
	cn.links.Store(&map[string]*mc.Pool{})
	if _, err := cn.ring.Set([]ring.Node{{Name: cn.self}}); err != nil {
		return nil, err
	}
	return cn, nil
}

// Link implements cluster.Links.
func (cn *clusterNet) Link(addr string) upstream.Pool {
	if l := (*cn.links.Load())[addr]; l != nil {
		return l
	}
	return nil
}

// TextLock and TextUnlock implement cluster.Locker with the lock servant.
func (cn *clusterNet) TextLock(key []byte, ttl time.Duration) (string, bool, error) {
	l := cn.locks.Load()
	if l == nil {
		return "", false, errors.New("locks not ready")
	}
	return (*l).TextLock(key, ttl)
}

func (cn *clusterNet) TextUnlock(key, token []byte) bool {
	l := cn.locks.Load()
	return l != nil && (*l).TextUnlock(key, token)
}

// onChange is the membership's OnChange: it makes or drops the peer's link
// and installs the ring of this sidecar and the peers up.
func (cn *clusterNet) onChange(c peers.Change) {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if cn.closed {
		return
	}
	addr := c.Peer.Addr
	links := *cn.links.Load()
	switch c.Kind {
	case peers.PeerUp, peers.PeerRestarted:
		cn.up[addr] = true
		// A link none of whose connections is ready (its peer died or
		// hung) is backing off between dials, up to a second, and fails
		// every request at once meanwhile: the peer would be back on the
		// ring while each write skipped it, acknowledged by the other
		// owners, and as a key's primary it would then answer reads with
		// an older value. A new link queues requests during its first
		// dial, so it replaces one that is down, before the ring has the
		// peer again. A link that is up is kept: closing it would fail
		// what is in flight on it.
		old := links[addr]
		if old != nil && old.Servers()[0].Up {
			// Up, but its connections may be waiting out a backoff after
			// a cut (a peer reachable again): dial those now.
			old.Redial()
		} else {
			l, err := cn.newLink(addr)
			if err != nil {
				cn.log.Error("peers: no link", "peer", addr, "err", err)
				return
			}
			next := clone(links)
			next[addr] = l
			cn.links.Store(&next)
			if old != nil {
				cn.retire(old)
			}
		}
	case peers.PeerDown:
		delete(cn.up, addr)
	case peers.PeerForgotten:
		delete(cn.up, addr)
		if l := links[addr]; l != nil {
			next := clone(links)
			delete(next, addr)
			cn.links.Store(&next)
			cn.retire(l)
		}
	}
	nodes := []ring.Node{{Name: cn.self}}
	for a := range cn.up {
		nodes = append(nodes, ring.Node{Name: a})
	}
	r, err := cn.ring.Set(nodes)
	if err != nil {
		cn.log.Error("peers: ring not rebuilt", "err", err)
		return
	}
	cn.log.Info("peers: ring rebuilt", "nodes", r.Len(), "version", r.Version(), "change", c.Kind.String(), "peer", addr)
}

func clone(m map[string]*mc.Pool) map[string]*mc.Pool {
	n := make(map[string]*mc.Pool, len(m)+1)
	for k, v := range m {
		n[k] = v
	}
	return n
}

// newLink returns the link to peer addr.
func (cn *clusterNet) newLink(addr string) (*mc.Pool, error) {
	return mc.New(mc.Config{
		Servers:        []mc.Server{{Addr: addr}},
		ConnsPerServer: 2,
		Timeout:        cn.timeout,
		DialTimeout:    cn.timeout,
		Dial:           cn.dial,
	})
}

// dial opens a peer link connection and proves the secret on it.
func (cn *clusterNet) dial(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	if _, err := cn.auth.Client(ctx, c, []byte(cn.self)); err != nil {
		c.Close()
		return nil, fmt.Errorf("peer handshake: %w", err)
	}
	return c, nil
}

// handshake is the peer port's server.Config.Handshake.
func (cn *clusterNet) handshake(buf []byte) ([]byte, int, error) {
	reply, used, _, err := cn.auth.Accept(buf, []byte(cn.self))
	if errors.Is(err, auth.ErrIncomplete) {
		return nil, 0, nil
	}
	return reply, used, err
}

// close closes every link.
func (cn *clusterNet) close() {
	cn.mu.Lock()
	cn.closed = true
	links := *cn.links.Load()
	cn.links.Store(&map[string]*mc.Pool{})
	cn.mu.Unlock()
	for _, l := range links {
		_ = l.Close()
	}
	cn.retiring.Wait()
}

// peerHandler serves the requests that arrive on the peer port: each key
// in the store of its cluster pool (the generation's peer router), never
// forwarded again.
type peerHandler struct{ d *daemon }

func (h peerHandler) Serve(req *memcache.Request, out []byte, w upstream.Waiter) ([]byte, bool) {
	return h.d.gen.Load().peer.Serve(req, out, w)
}

func (h peerHandler) Stats(add func(string, uint64)) {}

// notCluster answers, on the peer port, a key of a pool that is not a
// cluster pool: peers only send keys of cluster pools.
type notCluster struct{}

var replyNotCluster = []byte("SERVER_ERROR not a key of a cluster pool\r\n")

func (notCluster) Serve(req *memcache.Request, out []byte, _ upstream.Waiter) ([]byte, bool) {
	if req.NoReply {
		return out, false
	}
	return append(out, replyNotCluster...), false
}
func (notCluster) Stats(func(string, uint64)) {}
func (notCluster) Close() error               { return nil }

// clusterLocksOf is the client server's Config.ClusterLocks: the cluster
// pool of a key, or nil; nil without cluster.
func (d *daemon) clusterLocksOf(cn *clusterNet) func(key []byte) server.Handler {
	if cn == nil {
		return nil
	}
	return func(key []byte) server.Handler {
		if p := d.gen.Load().clusterOf(key); p != nil {
			return p
		}
		return nil
	}
}

// startPeerPort serves the peer port until ctx is done or stop is called;
// stop returns once it stopped.
func (d *daemon) startPeerPort(ctx context.Context, cfg *conf.Config, cn *clusterNet, sv server.TextServants) (stop func(), err error) {
	ctx, cancel := context.WithCancel(ctx)
	srv := server.New(server.Config{
		Addr:             cn.self,
		Loops:            1,
		MaxKeyLen:        cfg.MaxKeyLen,
		MaxItemSize:      int(cfg.MaxItemSize),
		ShutdownTimeout:  time.Second,
		Version:          "fae-peer",
		Logger:           d.log.With("port", "peer"),
		Servants:         sv,
		Handshake:        cn.handshake,
		HandshakeTimeout: cn.timeout * 4,
	}, peerHandler{d})
	done := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		defer close(done)
		errc <- srv.Run(ctx)
	}()
	select {
	case <-srv.Booted():
		return func() { cancel(); <-done }, nil
	case err := <-errc:
		cancel()
		return nil, fmt.Errorf("peers.listen: %w", err)
	case <-ctx.Done():
		cancel()
		<-done
		return nil, ctx.Err()
	}
}
