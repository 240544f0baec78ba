package daemon

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/fae-sidecar/fae/admin"
	"github.com/fae-sidecar/fae/conf"
	"github.com/fae-sidecar/fae/server"
)

// Reload reads the configuration again (Options.Load) and puts it in
// force: routes, pools, servers, L1, the connection limits (max_conns,
// max_inflight, max_inbound, max_outbound, idle_timeout), the admin token
// and log_level change without dropping a client connection; the fields only a restart changes
// must be as in force. A configuration that does not load, validate or
// build is refused with the reason (logged once, and returned), and the
// one in force stays. Safe for concurrent use; reloads run one at a time.
func (d *daemon) Reload(ctx context.Context) (*admin.Reloaded, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	start := time.Now()
	res, err := d.reload()
	if err != nil {
		d.failures.Add(1)
		msg := err.Error()
		d.lastErr.Store(&msg)
		d.log.Error("reload refused; the configuration in force is unchanged", "err", msg)
		return nil, err
	}
	d.reloads.Add(1)
	d.lastErr.Store(new(string))
	d.loaded.Store(time.Now().UnixNano())
	d.log.Info("configuration reloaded", "took", time.Since(start).Round(time.Microsecond),
		"added", res.Added, "changed", res.Changed, "removed", res.Removed, "kept", res.Kept, "routes", res.Routes)
	return res, nil
}

func (d *daemon) reload() (*admin.Reloaded, error) {
	if d.opts.Load == nil {
		return nil, errors.New("faed has no configuration to read again")
	}
	cfg, err := d.opts.Load()
	if err != nil {
		return nil, err
	}
	old := d.gen.Load()
	if err := restartOnly(old.cfg, cfg); err != nil {
		return nil, err
	}
	gen, ch, err := build(cfg, old, d.cluster, d.log)
	if err != nil {
		return nil, err
	}
	for _, w := range cfg.Warnings() {
		d.log.Warn(w)
	}
	d.install(gen)
	d.srv.SetLimits(limits(cfg))
	if d.adm != nil {
		d.adm.SetToken(cfg.AdminToken)
	}
	if cfg.LogLevel != old.cfg.LogLevel {
		d.opts.Level.Set(cfg.Level())
	}
	// The pools the new router does not serve close once their requests
	// are answered.
	for name, bp := range old.pools {
		if gen.pools[name] != bp {
			d.retire(name, bp, cfg.ShutdownTimeout.D())
		}
	}
	return &admin.Reloaded{Added: ch.Added, Changed: ch.Changed, Removed: ch.Removed, Kept: ch.Kept, Routes: len(cfg.Routes)}, nil
}

// restartOnly refuses a configuration that changes what only a restart
// changes: listeners, loops, the parser's limits (max_key_len,
// max_item_size, max_partial), the servants and their files, the peers
// membership and the mongo pools. Each change is one error,
// "field: …".
func restartOnly(cur, next *conf.Config) error {
	var errs []error
	check := func(field string, a, b any) {
		if !reflect.DeepEqual(a, b) {
			errs = append(errs, fmt.Errorf("%s: changes only on restart (in force %s, file %s)", field, show(a), show(b)))
		}
	}
	check("listen", cur.Listen, next.Listen)
	check("listen_unix", cur.ListenUnix, next.ListenUnix)
	check("listen_unix_mode", cur.ListenUnixMode, next.ListenUnixMode)
	check("admin", cur.Admin, next.Admin)
	check("admin_allow_remote", cur.AdminAllowRemote, next.AdminAllowRemote)
	check("log_format", cur.LogFormat, next.LogFormat)
	check("loops", cur.Loops, next.Loops)
	check("max_key_len", cur.MaxKeyLen, next.MaxKeyLen)
	check("max_item_size", cur.MaxItemSize, next.MaxItemSize)
	check("shutdown_timeout", cur.ShutdownTimeout.D(), next.ShutdownTimeout.D())
	check("data_dir", cur.DataDir, next.DataDir)
	check("max_thrift_frame", cur.MaxThriftFrame, next.MaxThriftFrame)
	check("idgen", cur.IDGen, next.IDGen)
	check("lcache", cur.LCache, next.LCache)
	check("dlog", cur.DLog, next.DLog)
	check("max_partial", cur.MaxPartial, next.MaxPartial)
	check("peers", cur.Peers, next.Peers)
	check("mongo pools", mongoPools(cur), mongoPools(next))
	return errors.Join(errs...)
}

// mongoPools are cfg's mongo pools by name: the mg_* calls' pools are built
// once, at start.
func mongoPools(cfg *conf.Config) map[string]*conf.Pool {
	m := map[string]*conf.Pool{}
	for name, p := range cfg.Pools {
		if p != nil && p.Kind == conf.KindMongo {
			m[name] = p
		}
	}
	return m
}

// limits are the server's limits a reload changes.
func limits(cfg *conf.Config) server.Limits {
	return server.Limits{MaxConns: cfg.MaxConns, MaxInflight: cfg.MaxInflight, MaxInbound: int(cfg.MaxInbound),
		MaxOutbound: int(cfg.MaxOutbound), IdleTimeout: cfg.IdleTimeout.D()}
}

// show writes a field's value for an error: strings quoted, structs as Go
// writes them.
func show(v any) string {
	switch v := v.(type) {
	case string:
		return fmt.Sprintf("%q", v)
	case fmt.Stringer:
		return v.String()
	}
	return strings.TrimPrefix(fmt.Sprintf("%+v", v), "&")
}
