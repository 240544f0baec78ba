package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fae-sidecar/fae/admin"
	"github.com/fae-sidecar/fae/conf"
	"github.com/fae-sidecar/fae/peers"
	"github.com/fae-sidecar/fae/server"
	"github.com/fae-sidecar/fae/upstream"
	"github.com/fae-sidecar/fae/upstream/cluster"
	"github.com/fae-sidecar/fae/upstream/mongo"
)

// Options are what Run needs besides the configuration.
type Options struct {
	// Build says what binary runs; Build.Protocol is what the memcached
	// "version" command answers.
	Build admin.Build
	Log   *slog.Logger
	// Level is the log level in force: Run sets it from log_level at start
	// and when a reload changes log_level; the admin API and the
	// "verbosity" command change it too. Nil: a level of Run's own.
	Level *slog.LevelVar
	// ConfigFile names the configuration's file, for /stats.
	ConfigFile string
	// Load reads the configuration again, for a reload; nil: reloads are
	// refused.
	Load func() (*conf.Config, error)
	// Reload asks for a reload (faed sends SIGHUP's here).
	Reload <-chan struct{}
}

// daemon is one running faed.
type daemon struct {
	opts    Options
	log     *slog.Logger
	started time.Time
	srv     *server.Server
	adm     *admin.Server
	live    live

	// mu serializes reloads and mode switches, so that a reload carries
	// every mode set before it over to its router.
	mu       sync.Mutex
	gen      atomic.Pointer[generation]
	reloads  atomic.Uint64
	failures atomic.Uint64
	lastErr  atomic.Pointer[string]
	loaded   atomic.Int64 // unix nanoseconds of the last successful load

	// members is the peers membership (nil: no peers); mongo the mongo
	// pools by name. Both are set before the admin API starts.
	members *peers.Membership
	mongo   map[string]*mongo.Pool

	// cluster is the ring, peer links and peer port of the cluster pools
	// (nil: no peers).
	cluster *clusterNet

	// retiring counts the goroutines closing pools a reload left behind.
	retiring sync.WaitGroup
}

// Run serves cfg (validated, with defaults) until ctx is done, then shuts
// down: the server drains its connections, the pools a reload left behind
// finish closing, then the pools in force and the servants close.
func Run(ctx context.Context, cfg *conf.Config, opts Options) error {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Level == nil {
		opts.Level = new(slog.LevelVar)
	}
	opts.Level.Set(cfg.Level())
	d := &daemon{opts: opts, log: opts.Log, started: time.Now()}
	d.lastErr.Store(new(string))
	d.loaded.Store(d.started.UnixNano())
	for _, w := range cfg.Warnings() {
		d.log.Warn(w)
	}
	cn, err := newClusterNet(cfg, d.log)
	if err != nil {
		return err
	}
	d.cluster = cn
	gen, _, err := build(cfg, nil, cn, d.log)
	if err != nil {
		return err
	}
	d.install(gen)
	defer func() { gen := d.gen.Load(); gen.close() }()

	var thriftLocks func([]byte) upstream.Pool
	if cn != nil {
		thriftLocks = func(key []byte) upstream.Pool {
			if p := d.gen.Load().clusterOf(key); p != nil {
				return p
			}
			return nil
		}
	}
	sv, err := buildServants(cfg, &d.live, opts.Build.Protocol, d.log, thriftLocks)
	if err != nil {
		return err
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout.D())
		defer cancel()
		if err := sv.close(ctx); err != nil {
			d.log.Error("closing servants", "err", err)
		}
	}()

	var onChange func(peers.Change)
	if cn != nil {
		var locks cluster.Locker = sv.fun
		cn.locks.Store(&locks)
		defer cn.close()
		stop, err := d.startPeerPort(ctx, cfg, cn, sv.fun)
		if err != nil {
			return err
		}
		defer stop()
		onChange = cn.onChange
	}
	members, err := startPeers(ctx, cfg.Peers, d.log, onChange)
	if err != nil {
		return err
	}
	if members != nil {
		defer members.Close()
	}
	d.members, d.mongo = members, sv.mongo

	if cfg.ListenUnix != "" {
		if err := checkUnixSocket(cfg.ListenUnix); err != nil {
			return err
		}
	}
	d.srv = server.New(server.Config{
		Addr:            cfg.Listen,
		Unix:            cfg.ListenUnix,
		UnixMode:        cfg.ListenUnixMode.Perm(),
		Loops:           cfg.Loops,
		MaxConns:        cfg.MaxConns,
		MaxKeyLen:       cfg.MaxKeyLen,
		MaxItemSize:     int(cfg.MaxItemSize),
		MaxInflight:     cfg.MaxInflight,
		MaxInbound:      int(cfg.MaxInbound),
		MaxOutbound:     int(cfg.MaxOutbound),
		MaxPartial:      int(cfg.MaxPartial),
		IdleTimeout:     cfg.IdleTimeout.D(),
		ShutdownTimeout: cfg.ShutdownTimeout.D(),
		Version:         opts.Build.Protocol,
		Logger:          d.log,
		Servants:        sv.fun,
		Thrift:          sv.fun,
		MaxThriftFrame:  int(cfg.MaxThriftFrame),
		Peers:           peerStats(members),
		SubStats:        map[string]func(func(string, uint64)){"mongo": mongoStats(sv.mongo)},
		SubStatsText:    map[string]func(func(string, string)){"pools": d.poolStats},
		Verbosity:       d.verbosity,
		ClusterLocks:    d.clusterLocksOf(cn),
	}, &d.live)
	// The pools left behind by reloads close once their requests are
	// answered, at the latest when the server has drained.
	defer d.retiring.Wait()

	if cfg.Admin != "" {
		d.adm = admin.New(admin.Config{
			Addr: cfg.Admin, Token: cfg.AdminToken, TokenEverywhere: !conf.IsLoopback(cfg.Admin),
			Source: d, Control: d, Level: opts.Level, Log: d.log, Build: opts.Build,
		})
		stopped, err := admin.Serve(ctx, d.adm)
		if err != nil {
			return fmt.Errorf("admin: %w", err)
		}
		defer func() { <-stopped }()
	}
	if opts.Reload != nil {
		reloader := make(chan struct{})
		go func() {
			defer close(reloader)
			for {
				select {
				case <-ctx.Done():
					return
				case <-opts.Reload:
					_, _ = d.Reload(ctx) // it logs the outcome
				}
			}
		}()
		defer func() { <-reloader }()
	}
	if err := d.srv.Run(ctx); err != nil {
		return err
	}
	d.log.Info("faed stopped", "uptime", time.Since(d.started).Round(time.Millisecond))
	return nil
}

// verbosity is the memcached "verbosity" command: 0 sets log_level again,
// 1 info, 2 and more debug.
func (d *daemon) verbosity(level uint32) {
	l := d.gen.Load().cfg.Level()
	switch {
	case level == 1:
		l = slog.LevelInfo
	case level >= 2:
		l = slog.LevelDebug
	}
	d.opts.Level.Set(l)
	d.log.Warn("log level set", "level", l.String(), "by", "verbosity command")
}
