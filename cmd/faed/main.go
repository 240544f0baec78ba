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
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/fae-sidecar/fae/admin"
	"github.com/fae-sidecar/fae/conf"
	"github.com/fae-sidecar/fae/daemon"
)

// protocolVersion is what "version" answers: the memcached release whose
// protocol faed follows, since clients (libmemcached) gate features on it.
const protocolVersion = "1.6.18"

// version and commit are set at build time (make build: -ldflags -X).
var (
	version = "dev"
	commit  = ""
)

// errUsage is a command line or configuration faed refuses: exit status 2.
var errUsage = errors.New("usage")

func main() {
	err := run(os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case errors.Is(err, errCheck):
		os.Exit(1)
	}
	fmt.Fprintln(os.Stderr, "faed:", err)
	os.Exit(2)
}

// errCheck is -check finding a problem (already printed).
var errCheck = errors.New("configuration refused")

// run parses flags, loads the configuration and serves until SIGTERM or
// SIGINT, reloading on SIGHUP.
func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("faed", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, `faed: the fae sidecar, a memcached-compatible cache and proxy.

Usage: faed [flags]

With no flags it serves the memcached text protocol on 127.0.0.1:11211 from
its embedded store. Flags override the file given with -config. SIGHUP
reloads the file (see docs/OPERATIONS.md).

Flags:
`)
		fs.PrintDefaults()
	}
	var o overrides
	configPath := fs.String("config", "", "YAML configuration `file`")
	fs.StringVar(&o.listen, "listen", "", "client address `host:port` (default 127.0.0.1:11211)")
	fs.StringVar(&o.servers, "servers", "", "memcached servers `h1:p1,h2:p2` for the default pool instead of the embedded store")
	fs.StringVar(&o.maxBytes, "max-bytes", "", "memory `size` of the embedded store, e.g. 64MiB")
	fs.DurationVar(&o.idle, "idle-timeout", 0, "close client connections idle this `long` (0: never)")
	fs.IntVar(&o.loops, "loops", 0, "event loops (0: one per two CPUs, at least one)")
	fs.StringVar(&o.admin, "admin", "", "admin HTTP API `host:port`; empty: off")
	logLevel := fs.String("log-level", "", "log `level`: debug, info, warn, error (default: the file's log_level, info)")
	showVersion := fs.Bool("version", false, "print the version, commit and Go version, and exit")
	check := fs.Bool("check", false, "check the configuration (-config and flags) and exit: 0 when valid, else 1 with each problem")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (see faed -h)", fs.Arg(0))
	}
	b := buildInfo()
	if *showVersion {
		fmt.Fprintf(stdout, "faed %s (commit %s, %s, memcached protocol %s)\n", b.Version, b.Commit, b.GoVersion, b.Protocol)
		return nil
	}
	if *logLevel != "" {
		var l slog.Level
		if err := l.UnmarshalText([]byte(*logLevel)); err != nil {
			return fmt.Errorf("-log-level: %w", err)
		}
	}
	load := func() (*conf.Config, error) { return loadConfig(*configPath, &o) }
	cfg, err := load()
	if *check {
		return checkReport(cfg, err, *configPath, stdout, stderr)
	}
	if err != nil {
		return err
	}
	if *logLevel != "" {
		cfg.LogLevel = *logLevel
	}
	level := new(slog.LevelVar)
	hopts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(stderr, hopts)
	if cfg.LogFormat == conf.LogJSON {
		h = slog.NewJSONHandler(stderr, hopts)
	}
	log := slog.New(h)
	log.Info("faed starting", "version", b.Version, "commit", b.Commit, "go", b.GoVersion, "config", *configPath)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reload := make(chan struct{}, 1)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				log.Info("SIGHUP: reloading the configuration", "config", *configPath)
				select {
				case reload <- struct{}{}:
				default: // one is pending already
				}
			}
		}
	}()
	return daemon.Run(ctx, cfg, daemon.Options{
		Build: b, Log: log, Level: level, ConfigFile: *configPath,
		Reload: reload,
		Load: func() (*conf.Config, error) {
			c, err := load()
			if err == nil && *logLevel != "" {
				c.LogLevel = *logLevel
			}
			return c, err
		},
	})
}

// overrides are the flags that override the configuration file.
type overrides struct {
	listen, servers, maxBytes, admin string
	idle                             time.Duration
	loops                            int
}

// loadConfig reads path (none: all defaults), applies the flags, the
// defaults, and validates. Its error is a *conf.Error.
func loadConfig(path string, o *overrides) (*conf.Config, error) {
	cfg := &conf.Config{}
	if path != "" {
		var err error
		if cfg, err = conf.Load(path); err != nil {
			return nil, err
		}
	}
	if o.listen != "" {
		cfg.Listen = o.listen
	}
	if o.idle > 0 {
		cfg.IdleTimeout = conf.Duration(o.idle)
	}
	if o.admin != "" {
		cfg.Admin = o.admin
	}
	if o.loops > 0 {
		cfg.Loops = o.loops
	}
	if o.servers != "" {
		if cfg.Pools == nil {
			cfg.Pools = map[string]*conf.Pool{}
		}
		cfg.Pools[conf.DefaultPool] = &conf.Pool{Kind: conf.KindMemcache, Servers: strings.Split(o.servers, ",")}
	}
	if o.maxBytes != "" {
		n, err := conf.ParseByteSize(o.maxBytes)
		if err != nil {
			return nil, &conf.Error{File: path, Problems: []error{fmt.Errorf("-max-bytes: %w", err)}}
		}
		cfg.Defaults()
		if p := cfg.Pools[conf.DefaultPool]; p.Kind == conf.KindLocal {
			p.MaxBytes = n
		}
	}
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, &conf.Error{File: path, Problems: conf.Problems(err)}
	}
	return cfg, nil
}

// checkReport is -check's output: "FILE: ok" on stdout, or each problem
// on a line of its own on stderr ("field.path: what is wrong").
func checkReport(cfg *conf.Config, err error, path string, stdout, stderr io.Writer) error {
	name := path
	if name == "" {
		name = "(no -config: defaults and flags)"
	}
	if err == nil {
		fmt.Fprintf(stdout, "%s: ok\n", name)
		for _, w := range cfg.Warnings() {
			fmt.Fprintf(stdout, "warning: %s\n", w)
		}
		return nil
	}
	var ce *conf.Error
	if !errors.As(err, &ce) {
		return err
	}
	fmt.Fprintf(stderr, "%s: %d problem(s):\n", name, len(ce.Problems))
	for _, p := range ce.Problems {
		fmt.Fprintln(stderr, p)
	}
	return errCheck
}

// buildInfo says what binary this is: version and commit as make build
// stamped them, else the module's version and VCS revision if Go recorded
// them.
func buildInfo() admin.Build {
	b := admin.Build{Version: version, Commit: commit, GoVersion: runtime.Version(), Protocol: protocolVersion}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if b.Version == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			b.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && b.Commit == "" {
				b.Commit = s.Value
			}
		}
	}
	if b.Commit == "" {
		b.Commit = "unknown"
	}
	return b
}
