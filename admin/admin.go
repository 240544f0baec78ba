package admin

import (
	"context"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Config configures the admin API.
type Config struct {
	// Addr is where Serve listens (host:port).
	Addr string
	// Token is the bearer token POSTs need; empty: POSTs are refused.
	// It can change later (SetToken).
	Token string
	// TokenEverywhere makes every request need the token, GETs included:
	// for an address other hosts reach.
	TokenEverywhere bool
	Source          Source
	Control         Control
	// Level is the log level in force, which POST /log/level changes.
	Level *slog.LevelVar
	Log   *slog.Logger
	// Build says what runs, for the page and faed_build_info.
	Build Build
}

// Server is the admin API's handler. Create it with New.
type Server struct {
	cfg   Config
	token atomic.Pointer[string]
	mux   *http.ServeMux
	paths map[string]bool // paths with a 405 handler (handle)
}

// New returns the admin API for cfg.
func New(cfg Config) *Server {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Level == nil {
		cfg.Level = new(slog.LevelVar)
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux(), paths: map[string]bool{}}
	s.SetToken(cfg.Token)

	reg := prometheus.NewRegistry()
	reg.MustRegister(
		newCollector(cfg.Source),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	metrics := promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slogPrinter{cfg.Log}})

	s.handle("/healthz", http.MethodGet, s.healthz)
	s.handle("/stats", http.MethodGet, s.stats)
	s.handle("/pools", http.MethodGet, s.pools)
	s.handle("/ring", http.MethodGet, s.ring)
	s.handle("/metrics", http.MethodGet, metrics.ServeHTTP)
	s.handle("/pools/{name}/mode", http.MethodPost, s.setMode)
	s.handle("/reload", http.MethodPost, s.reload)
	s.handle("/log/level", http.MethodGet, s.logLevel)
	s.handle("/log/level", http.MethodPost, s.setLogLevel)
	s.handle("/debug/pprof/", "", pprof.Index)
	s.handle("/debug/pprof/cmdline", "", pprof.Cmdline)
	s.handle("/debug/pprof/profile", "", pprof.Profile)
	s.handle("/debug/pprof/symbol", "", pprof.Symbol)
	s.handle("/debug/pprof/trace", "", pprof.Trace)
	s.handle("/{$}", http.MethodGet, s.page)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if !s.authorized(w, r) {
			return
		}
		writeError(w, http.StatusNotFound, "no such endpoint: "+r.URL.Path+" (see docs/OPERATIONS.md)")
	})
	return s
}

// SetToken changes the bearer token; empty turns POSTs off (and, with
// TokenEverywhere, every request).
func (s *Server) SetToken(tok string) { s.token.Store(&tok) }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// handle registers h for path and method (any method when ""), behind
// the token check. A path registered for several methods answers others
// with a JSON 405.
func (s *Server) handle(path, method string, h http.HandlerFunc) {
	pattern := path
	if method != "" {
		pattern = method + " " + path
		if !s.paths[path] {
			// Other methods: 405 in JSON rather than the mux's plain text.
			s.paths[path] = true
			s.mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
				if !s.authorized(w, r) {
					return
				}
				writeError(w, http.StatusMethodNotAllowed, r.Method+" "+r.URL.Path+": not allowed")
			})
		}
	}
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if !s.authorized(w, r) {
			return
		}
		h(w, r)
	})
}

// authorized checks the bearer token where one is needed (every POST, and
// every request with TokenEverywhere) and answers 401 or 403 otherwise:
// 401 when the request has no bearer token, 403 when it is wrong or none
// is configured.
func (s *Server) authorized(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		if !s.cfg.TokenEverywhere {
			return true
		}
	}
	want := *s.token.Load()
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	switch {
	case !ok || got == "":
		w.Header().Set("WWW-Authenticate", `Bearer realm="faed"`)
		writeError(w, http.StatusUnauthorized, "this request needs Authorization: Bearer <admin_token>")
		return false
	case want == "":
		writeError(w, http.StatusForbidden, "admin_token is not set: the admin API changes nothing")
		return false
	case subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1:
		writeError(w, http.StatusForbidden, "wrong admin token")
		return false
	}
	return true
}

// Serve serves the admin API on cfg.Addr until ctx is done; it returns
// once the listener is bound. stopped is closed when the server is down.
func Serve(ctx context.Context, s *Server) (stopped <-chan struct{}, err error) {
	l, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second, ErrorLog: slog.NewLogLogger(s.cfg.Log.Handler(), slog.LevelWarn)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.cfg.Log.Error("admin server", "err", err)
		}
	}()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	s.cfg.Log.Info("admin listening", "addr", l.Addr().String(), "token", *s.token.Load() != "")
	return done, nil
}

// slogPrinter logs promhttp's errors.
type slogPrinter struct{ log *slog.Logger }

func (p slogPrinter) Println(v ...any) { p.log.Error("metrics", "err", v) }
