package daemon

import (
	"fmt"
	"strings"
	"time"

	"github.com/fae-sidecar/fae/admin"
	"github.com/fae-sidecar/fae/conf"
	"github.com/fae-sidecar/fae/internal/hist"
	"github.com/fae-sidecar/fae/router"
)

// The daemon is the admin API's Source and Control.
var (
	_ admin.Source  = (*daemon)(nil)
	_ admin.Control = (*daemon)(nil)
)

// Snapshot reads the state of the sidecar: the server's counters and each
// pool's, read from the atomics the request path keeps.
func (d *daemon) Snapshot() *admin.Snapshot {
	gen := d.gen.Load()
	now := time.Now()
	snap := &admin.Snapshot{
		Build: d.opts.Build, Time: now, Started: d.started, UptimeSeconds: now.Sub(d.started).Seconds(),
		Config: admin.ConfigState{File: d.opts.ConfigFile, Loaded: time.Unix(0, d.loaded.Load()),
			Reloads: d.reloads.Load(), ReloadFailures: d.failures.Load(), LastError: *d.lastErr.Load()},
		LogLevel: strings.ToLower(d.opts.Level.Level().String()),
		Server:   map[string]uint64{},
	}
	if d.srv != nil {
		d.srv.Stats(func(name string, v uint64) { snap.Server[name] = v })
	}
	for _, name := range sortedNames(gen.pools) {
		bp := gen.pools[name]
		p := admin.Pool{Name: name, Kind: bp.cfg.Kind, Default: name == conf.DefaultPool, Routes: []string{}, Stats: map[string]uint64{}}
		m, _ := gen.rt.Mode(name)
		p.Mode = m.String()
		for _, r := range gen.cfg.Routes {
			if r.Pool == name {
				p.Routes = append(p.Routes, r.Prefix)
			}
		}
		// The router's pool: its stats include the read path's and the
		// writes refused while read-only.
		gen.rt.Pool(name).Stats(func(n string, v uint64) { p.Stats[n] += v })
		if bp.mc != nil {
			p.Servers = upstreams(bp.mc, spoolStats(bp.fb))
			p.Latency = new(hist.Snapshot)
			bp.mc.Latency(p.Latency)
		}
		snap.Pools = append(snap.Pools, p)
	}
	if d.members != nil {
		for _, p := range d.members.Peers() {
			snap.Peers = append(snap.Peers, admin.Peer{Addr: p.Addr, Up: p.Up})
		}
		snap.BeaconsDropped = map[string]uint64{}
		for _, dr := range d.members.Drops() {
			snap.BeaconsDropped[dr.Reason] = dr.Count
		}
	}
	for _, name := range sortedNames(d.mongo) {
		for _, st := range d.mongo[name].Stats() {
			snap.Mongo = append(snap.Mongo, admin.MongoShard{Pool: name, Shard: st.Shard, Calls: st.Calls,
				Errors: st.Errors, Timeouts: st.Timeouts, Refused: st.Refused, Rejected: st.Rejected,
				InFlight: st.InFlight, Open: st.Open, MeanUS: st.MeanUS, P50US: st.P50US, P99US: st.P99US, MaxUS: st.MaxUS})
		}
	}
	return snap
}

// Ring says which pool, and in a memcache pool which server, owns key.
func (d *daemon) Ring(key string) (*admin.Owner, error) {
	if len(key) > 250 {
		return nil, fmt.Errorf("key of %d bytes: a key has at most 250", len(key))
	}
	gen := d.gen.Load()
	pool, prefix := gen.rt.Route([]byte(key))
	bp := gen.pools[pool]
	o := &admin.Owner{Key: key, Pool: pool, Route: prefix, Kind: bp.cfg.Kind}
	if bp.mc != nil {
		o.Server, o.Failover = bp.mc.Owner([]byte(key))
	}
	if bp.cl != nil {
		o.Owners = bp.cl.Owners([]byte(key))
	}
	return o, nil
}

// Serving reports whether the server serves clients.
func (d *daemon) Serving() bool { return d.srv != nil && d.srv.Serving() }

// SetMode sets a pool's mode ("normal" or "readonly"); it lasts across
// reloads.
func (d *daemon) SetMode(pool, mode string) error {
	m, err := router.ParseMode(mode)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.gen.Load().rt.SetMode(pool, m); err != nil {
		return admin.ErrNotFound{Err: fmt.Errorf("no pool %q", pool)}
	}
	return nil
}
