// Command faed is the fae sidecar daemon: a memcached-compatible cache and
// proxy for one application host. With no configuration it serves the
// memcached text protocol on 127.0.0.1:11211 from its embedded store.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/fae-sidecar/fae/conf"
	"github.com/fae-sidecar/fae/server"
)

// protocolVersion is what "version" answers: the memcached release whose
// protocol faed follows, since clients (libmemcached) gate features on it.
const protocolVersion = "1.6.18"

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "faed:", err)
		os.Exit(2)
	}
}

// run parses flags, loads the configuration and serves until SIGTERM or SIGINT.
func run(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("faed", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, `faed: the fae sidecar, a memcached-compatible cache and proxy.

Usage: faed [flags]

With no flags it serves the memcached text protocol on 127.0.0.1:11211 from
its embedded store. Flags override the file given with -config.

Flags:
`)
		fs.PrintDefaults()
	}
	configPath := fs.String("config", "", "YAML configuration `file`")
	listen := fs.String("listen", "", "client address `host:port` (default 127.0.0.1:11211)")
	servers := fs.String("servers", "", "memcached servers `h1:p1,h2:p2` for the default pool instead of the embedded store")
	maxBytes := fs.String("max-bytes", "", "memory `size` of the embedded store, e.g. 64MiB")
	idle := fs.Duration("idle-timeout", 0, "close client connections idle this `long` (0: never)")
	loops := fs.Int("loops", 0, "event loops (0: one per two CPUs, at least one)")
	admin := fs.String("admin", "", "admin HTTP `host:port` (pprof); empty: off")
	logLevel := fs.String("log-level", "info", "log `level`: debug, info, warn, error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (see faed -h)", fs.Arg(0))
	}

	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("-log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl}))

	cfg := &conf.Config{}
	if *configPath != "" {
		var err error
		if cfg, err = conf.Load(*configPath); err != nil {
			return err
		}
	}
	if *listen != "" {
		cfg.Listen = *listen
	}
	if *idle > 0 {
		cfg.IdleTimeout = conf.Duration(*idle)
	}
	if *admin != "" {
		cfg.Admin = *admin
	}
	if *loops > 0 {
		cfg.Loops = *loops
	}
	if *servers != "" {
		if cfg.Pools == nil {
			cfg.Pools = map[string]*conf.Pool{}
		}
		cfg.Pools[conf.DefaultPool] = &conf.Pool{Kind: conf.KindMemcache, Servers: strings.Split(*servers, ",")}
	}
	if *maxBytes != "" {
		n, err := conf.ParseByteSize(*maxBytes)
		if err != nil {
			return fmt.Errorf("-max-bytes: %w", err)
		}
		cfg.Defaults()
		if p := cfg.Pools[conf.DefaultPool]; p.Kind == conf.KindLocal {
			p.MaxBytes = n
		}
	}
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("config: %w", err)
	}

	rt, err := buildRouter(cfg)
	if err != nil {
		return err
	}
	defer rt.Close()

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
		Version:         protocolVersion,
		Logger:          log,
	}, rt)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if cfg.Admin != "" {
		stopped, err := serveAdmin(ctx, cfg.Admin, log)
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
