package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sort"
	"sync/atomic"
	"time"

	"github.com/fae-sidecar/fae/conf"
	"github.com/fae-sidecar/fae/proto/memcache"
	"github.com/fae-sidecar/fae/router"
	"github.com/fae-sidecar/fae/router/fallback"
	"github.com/fae-sidecar/fae/router/l1"
	"github.com/fae-sidecar/fae/upstream"
	"github.com/fae-sidecar/fae/upstream/breaker"
	"github.com/fae-sidecar/fae/upstream/cluster"
	"github.com/fae-sidecar/fae/upstream/local"
	mc "github.com/fae-sidecar/fae/upstream/memcache"
)

// generation is one configuration in force: its pools and the router over
// them. A reload makes a new one; pools may belong to several.
type generation struct {
	cfg   *conf.Config
	rt    *router.Router
	pools map[string]*builtPool
	// peer routes the keys that arrive on the peer port: a cluster pool's
	// to its own store, others to a refusal. nil without cluster.
	peer *router.Router
}

// builtPool is one running pool and the configuration it was built from.
type builtPool struct {
	cfg  *conf.Pool
	pool upstream.Pool  // as the router serves it (read path included)
	mc   *mc.Pool       // the memcache pool within; nil for a local one
	fb   *fallback.Pool // its on_failure: memory, if set
	cl   *cluster.Pool  // the cluster pool; nil for the other kinds
}

// clusterOf returns the cluster pool that key routes to, or nil.
func (g *generation) clusterOf(key []byte) *cluster.Pool {
	name, _ := g.rt.Route(key)
	if bp := g.pools[name]; bp != nil {
		return bp.cl
	}
	return nil
}

// live is the router in force, which the server and the servants hold:
// a reload swaps it with one atomic store, and each request loads it once.
type live struct{ rt atomic.Pointer[router.Router] }

func (l *live) Serve(req *memcache.Request, out []byte, w upstream.Waiter) ([]byte, bool) {
	return l.rt.Load().Serve(req, out, w)
}

func (l *live) Stats(add func(name string, value uint64)) { l.rt.Load().Stats(add) }

// Pool is the servants' access to a named pool (mc_* with a pool).
func (l *live) Pool(name string) upstream.Pool { return l.rt.Load().Pool(name) }

// install puts gen in force.
func (d *daemon) install(gen *generation) {
	d.live.rt.Store(gen.rt)
	d.gen.Store(gen)
}

// build makes the pools of cfg and the router over them. With prev (a
// reload), a pool whose configuration is unchanged is taken over from it,
// connections, L1 and mode included; changes says which pools are new,
// rebuilt, kept or gone. On error nothing built is left running. Pools log
// to log.
func build(cfg *conf.Config, prev *generation, cn *clusterNet, log *slog.Logger) (*generation, *changes, error) {
	gen := &generation{cfg: cfg, pools: map[string]*builtPool{}}
	ch := &changes{}
	var made []*builtPool
	fail := func(err error) (*generation, *changes, error) {
		for _, bp := range made {
			_ = bp.pool.Close()
		}
		return nil, nil, err
	}
	for _, name := range sortedNames(cfg.Pools) {
		pc := cfg.Pools[name]
		if pc.Kind == conf.KindMongo { // the mg_* calls' pools (buildMongo)
			continue
		}
		if old := prev.pool(name); old != nil && reflect.DeepEqual(old.cfg, pc) {
			gen.pools[name] = old
			ch.Kept = append(ch.Kept, name)
			continue
		}
		bp, err := buildPool(cfg, name, pc, cn, log)
		if err != nil {
			return fail(fmt.Errorf("pools.%s: %w", name, err))
		}
		made = append(made, bp)
		gen.pools[name] = bp
		if prev.pool(name) != nil {
			ch.Changed = append(ch.Changed, name)
		} else {
			ch.Added = append(ch.Added, name)
		}
	}
	pools := make(map[string]upstream.Pool, len(gen.pools))
	for name, bp := range gen.pools {
		pools[name] = bp.pool
	}
	routes := make([]router.Route, 0, len(cfg.Routes))
	for _, r := range cfg.Routes {
		routes = append(routes, router.Route{Prefix: r.Prefix, Pool: r.Pool})
	}
	rt, err := router.New(pools, conf.DefaultPool, routes)
	if err != nil {
		return fail(err)
	}
	gen.rt = rt
	if cn != nil {
		peer := make(map[string]upstream.Pool, len(gen.pools))
		for name, bp := range gen.pools {
			peer[name] = notCluster{}
			if bp.cl != nil {
				peer[name] = bp.cl.Local()
			}
		}
		if gen.peer, err = router.New(peer, conf.DefaultPool, routes); err != nil {
			return fail(err)
		}
	}
	if prev != nil {
		for _, name := range sortedNames(prev.cfg.Pools) {
			if gen.pools[name] == nil {
				ch.Removed = append(ch.Removed, name)
			}
			// A pool keeps its mode across reloads, rebuilt or not: an
			// operator's switch stays until the operator flips it back.
			if m, ok := prev.rt.Mode(name); ok && gen.pools[name] != nil {
				_ = rt.SetMode(name, m)
			}
		}
	}
	return gen, ch, nil
}

// changes lists what a reload did to the pools.
type changes struct{ Added, Changed, Removed, Kept []string }

// pool returns the pool named name, nil when there is none (or no g).
func (g *generation) pool(name string) *builtPool {
	if g == nil {
		return nil
	}
	return g.pools[name]
}

// close closes every pool of g.
func (g *generation) close() {
	for _, bp := range g.pools {
		_ = bp.pool.Close()
	}
}

func sortedNames[V any](m map[string]V) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func buildPool(cfg *conf.Config, name string, pc *conf.Pool, cn *clusterNet, log *slog.Logger) (*builtPool, error) {
	switch pc.Kind {
	case conf.KindLocal:
		return &builtPool{cfg: pc, pool: local.New(local.Config{MaxBytes: int64(pc.MaxBytes), MaxItemSize: int(cfg.MaxItemSize)})}, nil
	case conf.KindMemcache:
		mcc := mc.Config{
			ConnsPerServer: pc.ConnsPerServer,
			Timeout:        pc.Timeout.D(),
			AllowFlush:     *pc.AllowFlush,
			Distribution:   mc.Distribution(pc.Distribution),
			HashSkipPrefix: pc.HashSkipPrefix,
			Transport:      mc.Transport(pc.Transport),
		}
		if b := pc.Breaker; b != nil {
			mcc.Breaker = &breaker.Config{MinRequests: b.MinRequests, ErrorPercent: b.ErrorPercent,
				SleepWindow: b.SleepWindow.D(), Window: b.Window.D()}
		}
		for _, s := range pc.Servers {
			srv, err := conf.ParseServer(s)
			if err != nil {
				return nil, err
			}
			mcc.Servers = append(mcc.Servers, mc.Server{Addr: srv.Addr, Weight: srv.Weight})
		}
		for _, s := range pc.Failover {
			srv, err := conf.ParseServer(s)
			if err != nil {
				return nil, err
			}
			mcc.Failover = append(mcc.Failover, mc.Server{Addr: srv.Addr, Weight: srv.Weight})
		}
		pool, err := mc.New(mcc)
		if err != nil {
			return nil, err
		}
		rp := router.ReadPath{Coalesce: *pc.Coalesce}
		if pc.L1 != nil {
			rp.L1 = l1.New(l1.Config{MaxBytes: int64(pc.L1.MaxBytes), TTL: pc.L1.TTL.D()})
		}
		fb := withFallback(cfg, name, pc, pool, log)
		var next upstream.Pool = pool
		if fb != nil {
			next = fb
		}
		return &builtPool{cfg: pc, pool: router.WithReadPath(next, rp), mc: pool, fb: fb}, nil
	case conf.KindCluster:
		if cn == nil {
			return nil, errors.New("a cluster pool needs peers:")
		}
		p, err := cluster.New(cluster.Config{
			Self:     cn.self,
			Replicas: pc.Replicas,
			Ring:     &cn.ring,
			Local:    local.New(local.Config{MaxBytes: int64(pc.MaxBytes), MaxItemSize: int(cfg.MaxItemSize)}),
			Links:    cn,
			Locks:    cn,
		})
		if err != nil {
			return nil, err
		}
		return &builtPool{cfg: pc, pool: p, cl: p}, nil
	}
	return nil, fmt.Errorf("unknown pool kind %q", pc.Kind)
}

// retire closes bp, which the router in force no longer serves, once the
// requests it holds are answered: first every event loop finishes the
// event in which it may still have handed bp a request (server.Barrier),
// then bp's queues empty. It waits at most shutdown_timeout, then closes
// bp anyway (its late requests fail with "pool closed").
func (d *daemon) retire(name string, bp *builtPool, within time.Duration) {
	d.retiring.Add(1)
	go func() {
		defer d.retiring.Done()
		ctx, cancel := context.WithTimeout(context.Background(), within)
		defer cancel()
		err := d.srv.Barrier(ctx)
		left := 0
		if bp.mc != nil && err == nil {
			left, err = waitIdle(ctx, bp.mc)
		}
		_ = bp.pool.Close()
		if err != nil {
			d.log.Warn("pool retired before its requests were answered", "pool", name, "pending", left, "err", err)
			return
		}
		d.log.Info("pool retired", "pool", name)
	}()
}

// waitIdle polls p until it holds no request, or ctx is done.
func waitIdle(ctx context.Context, p *mc.Pool) (int, error) {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		n, err := p.Pending(ctx)
		if err == nil && n == 0 {
			return 0, nil
		}
		if err != nil {
			return n, err
		}
		select {
		case <-ctx.Done():
			return n, ctx.Err()
		case <-tick.C:
		}
	}
}
