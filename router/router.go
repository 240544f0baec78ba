package router

import (
	"fmt"
	"sort"
	"strings"

	"github.com/fae-sidecar/fae/proto/memcache"
	"github.com/fae-sidecar/fae/upstream"
)

// Route sends keys that start with Prefix to the pool named Pool.
type Route struct {
	Prefix string
	Pool   string
}

// Router maps keys to pools. Its routes are immutable after New; each
// pool's mode can change (SetMode). It is safe for concurrent use.
type Router struct {
	routes []route // longest prefix first
	def    *pool
	pools  []*pool // by name
	byName map[string]*pool
	split  splitPool
}

type route struct {
	prefix string
	pool   *pool
}

// New builds a router over pools; def names the pool for unmatched keys.
func New(pools map[string]upstream.Pool, def string, routes []Route) (*Router, error) {
	r := &Router{byName: make(map[string]*pool, len(pools))}
	names := make([]string, 0, len(pools))
	for n := range pools {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p := &pool{Pool: pools[n], name: n}
		r.pools = append(r.pools, p)
		r.byName[n] = p
	}
	if r.def = r.byName[def]; r.def == nil {
		return nil, fmt.Errorf("router: default pool %q is not configured", def)
	}
	for _, rt := range routes {
		p := r.byName[rt.Pool]
		if p == nil {
			return nil, fmt.Errorf("router: route %q names unknown pool %q", rt.Prefix, rt.Pool)
		}
		r.routes = append(r.routes, route{prefix: rt.Prefix, pool: p})
	}
	// Longest prefix first, so the first match is the longest.
	sort.SliceStable(r.routes, func(i, j int) bool {
		return len(r.routes[i].prefix) > len(r.routes[j].prefix)
	})
	r.split.r = r
	return r, nil
}

// Pool returns the pool named name, nil when there is none. Its Serve
// honours the pool's mode.
func (r *Router) Pool(name string) upstream.Pool {
	if p := r.byName[name]; p != nil {
		return p
	}
	return nil
}

// Route names the pool that owns key and the route prefix that chose it
// ("" when no route matched: the default pool).
func (r *Router) Route(key []byte) (pool, prefix string) {
	if rt := r.routeOf(key); rt != nil {
		return rt.pool.name, rt.prefix
	}
	return r.def.name, ""
}

// Pick returns the pool that owns key. Its Serve honours the pool's mode.
func (r *Router) Pick(key []byte) upstream.Pool { return r.pick(key) }

func (r *Router) pick(key []byte) *pool {
	if rt := r.routeOf(key); rt != nil {
		return rt.pool
	}
	return r.def
}

// routeOf returns the longest route matching key, nil when none does.
func (r *Router) routeOf(key []byte) *route {
	for i := range r.routes {
		// string(key) in a comparison does not allocate.
		if strings.HasPrefix(string(key), r.routes[i].prefix) {
			return &r.routes[i]
		}
	}
	return nil
}

// Serve routes req to its pool; see upstream.Pool for the contract. Keyless
// commands other than flush_all are not the router's: the server answers
// them. flush_all goes to the default pool only. A meta command's key sent
// in base64 (flag b) is routed by its decoded bytes, the item's key.
func (r *Router) Serve(req *memcache.Request, out []byte, w upstream.Waiter) ([]byte, bool) {
	if !req.Cmd.HasKey() {
		return r.def.Serve(req, out, w)
	}
	if len(r.routes) == 0 {
		return r.def.Serve(req, out, w)
	}
	var buf [memcache.MaxMetaKey]byte
	key, _ := req.ItemKey(buf[:])
	p := r.pick(key)
	if len(req.Keys) == 1 {
		return p.Serve(req, out, w)
	}
	for _, k := range req.Keys[1:] {
		if r.pick(k) != p {
			return r.split.serve(req, out, w)
		}
	}
	return p.Serve(req, out, w)
}

// Stats reports every pool's statistics; names repeat across pools and the
// caller sums them.
func (r *Router) Stats(add func(name string, value uint64)) {
	for _, p := range r.pools {
		p.Stats(add)
	}
}

// Close closes every pool.
func (r *Router) Close() error {
	var first error
	for _, p := range r.pools {
		if err := p.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
