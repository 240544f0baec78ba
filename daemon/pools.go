package daemon

import (
	"errors"
	"fmt"

	"github.com/fae-sidecar/fae/conf"
	"github.com/fae-sidecar/fae/router"
	"github.com/fae-sidecar/fae/router/l1"
	"github.com/fae-sidecar/fae/upstream"
	"github.com/fae-sidecar/fae/upstream/local"
	"github.com/fae-sidecar/fae/upstream/memcache"
)

// buildRouter makes the pools of cfg and the router over them.
func buildRouter(cfg *conf.Config) (*router.Router, error) {
	pools := map[string]upstream.Pool{}
	closeAll := func() {
		for _, p := range pools {
			_ = p.Close()
		}
	}
	for name, pc := range cfg.Pools {
		if pc.Kind == conf.KindMongo { // the mg_* calls' pools (buildMongo)
			continue
		}
		p, err := buildPool(cfg, pc)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("pools.%s: %w", name, err)
		}
		pools[name] = p
	}
	routes := make([]router.Route, 0, len(cfg.Routes))
	for _, r := range cfg.Routes {
		routes = append(routes, router.Route{Prefix: r.Prefix, Pool: r.Pool})
	}
	rt, err := router.New(pools, conf.DefaultPool, routes)
	if err != nil {
		closeAll()
		return nil, err
	}
	return rt, nil
}

func buildPool(cfg *conf.Config, pc *conf.Pool) (upstream.Pool, error) {
	switch pc.Kind {
	case conf.KindLocal:
		return local.New(local.Config{MaxBytes: int64(pc.MaxBytes), MaxItemSize: int(cfg.MaxItemSize)}), nil
	case conf.KindMemcache:
		mc := memcache.Config{
			ConnsPerServer: pc.ConnsPerServer,
			Timeout:        pc.Timeout.D(),
			AllowFlush:     *pc.AllowFlush,
			Distribution:   memcache.Distribution(pc.Distribution),
			HashSkipPrefix: pc.HashSkipPrefix,
			Transport:      memcache.Transport(pc.Transport),
		}
		for _, s := range pc.Servers {
			srv, err := conf.ParseServer(s)
			if err != nil {
				return nil, err
			}
			mc.Servers = append(mc.Servers, memcache.Server{Addr: srv.Addr, Weight: srv.Weight})
		}
		for _, s := range pc.Failover {
			srv, err := conf.ParseServer(s)
			if err != nil {
				return nil, err
			}
			mc.Failover = append(mc.Failover, memcache.Server{Addr: srv.Addr, Weight: srv.Weight})
		}
		pool, err := memcache.New(mc)
		if err != nil {
			return nil, err
		}
		rp := router.ReadPath{Coalesce: *pc.Coalesce}
		if pc.L1 != nil {
			rp.L1 = l1.New(l1.Config{MaxBytes: int64(pc.L1.MaxBytes), TTL: pc.L1.TTL.D()})
		}
		return router.WithReadPath(pool, rp), nil
	case conf.KindCluster:
		// conf validates cluster pools and peers/ has the ring, auth and
		// membership, but no peer links serve the keys yet: refuse at start
		// rather than run a pool that is not there.
		return nil, errors.New("pool kind cluster: not served yet")
	}
	return nil, fmt.Errorf("unknown pool kind %q", pc.Kind)
}
