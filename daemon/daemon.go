package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/fae-sidecar/fae/admin"
	"github.com/fae-sidecar/fae/conf"
	"github.com/fae-sidecar/fae/server"
)

// Run serves cfg (validated, with defaults) until ctx is done, then shuts
// down: the server drains its connections, then the pools close. version
// is what the memcached "version" command answers.
func Run(ctx context.Context, cfg *conf.Config, version string, log *slog.Logger) error {
	for _, w := range cfg.Warnings() {
		log.Warn(w)
	}
	rt, err := buildRouter(cfg)
	if err != nil {
		return err
	}
	defer rt.Close()
	sv, err := buildServants(cfg, rt, version, log)
	if err != nil {
		return err
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout.D())
		defer cancel()
		if err := sv.close(ctx); err != nil {
			log.Error("closing servants", "err", err)
		}
	}()

	members, err := startPeers(ctx, cfg.Peers, log)
	if err != nil {
		return err
	}
	if members != nil {
		defer members.Close()
	}

	srv := server.New(server.Config{
		Addr:            cfg.Listen,
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
		Version:         version,
		Logger:          log,
		Servants:        sv.fun,
		Thrift:          sv.fun,
		MaxThriftFrame:  int(cfg.MaxThriftFrame),
		Peers:           peerStats(members),
		SubStats:        map[string]func(func(string, uint64)){"mongo": mongoStats(sv.mongo)},
	}, rt)

	if cfg.Admin != "" {
		stopped, err := admin.Serve(ctx, cfg.Admin, log)
		if err != nil {
			return fmt.Errorf("admin: %w", err)
		}
		defer func() { <-stopped }()
	}
	start := time.Now()
	if err := srv.Run(ctx); err != nil {
		return err
	}
	log.Info("faed stopped", "uptime", time.Since(start).Round(time.Millisecond))
	return nil
}
