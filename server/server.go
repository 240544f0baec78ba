package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/fae-sidecar/fae/eventloop"
	"github.com/fae-sidecar/fae/proto/memcache"
	"github.com/fae-sidecar/fae/upstream"
)

// Handler serves parsed keyed requests and flush_all; see upstream.Pool for
// the contract of Serve. The server itself answers version, verbosity,
// quit and stats.
type Handler interface {
	Serve(req *memcache.Request, out []byte, w upstream.Waiter) ([]byte, bool)
	Stats(add func(name string, value uint64))
}

// Config holds the server's limits; zero values take the defaults of
// conf.Config.
type Config struct {
	Addr string
	// Unix is the path of a second listener, a unix socket, for the same
	// protocols; empty: none. A file already there is replaced (daemon
	// checks it is a stale socket first); the file is removed when the
	// server stops. UnixMode is its permission bits (default 0660).
	Unix     string
	UnixMode os.FileMode
	// Loops is the number of event loops; 0: LoopCount's default.
	Loops           int
	MaxConns        int
	MaxKeyLen       int
	MaxItemSize     int
	MaxInflight     int
	MaxInbound      int
	MaxOutbound     int
	MaxPartial      int
	IdleTimeout     time.Duration
	ShutdownTimeout time.Duration
	Version         string
	Logger          *slog.Logger
	// Peers lists the cluster's peers for "stats peers" (nil: no cluster).
	Peers func(add func(addr string, up bool))
	// Servants answer the text verbs lock, unlock and id; nil: they are
	// unknown commands.
	Servants TextServants
	// Thrift serves connections that speak framed Thrift (first byte
	// 0x00); nil: such a connection is taken for a text one.
	Thrift ThriftHandler
	// MaxThriftFrame is the largest Thrift frame accepted (default 16 MiB).
	MaxThriftFrame int
	// ThriftWorkers run the Thrift calls that may block (default 64);
	// ThriftQueue bounds the calls waiting for one (default 4096).
	ThriftWorkers int
	ThriftQueue   int
	// SubStats answer "stats NAME" with the statistics each reports
	// (memcached's "stats items" and "stats slabs" have their own); called
	// on the event loop, they must not block.
	SubStats map[string]func(add func(name string, value uint64))
	// SubStatsText is SubStats for statistics whose values may be words
	// (a state such as "open"), not only numbers.
	SubStatsText map[string]func(add func(name, value string))
	// Verbosity, when set, is called on the event loop with the level of
	// each "verbosity" command (faed sets its log level with it).
	Verbosity func(level uint32)
	// Handshake, when set, is run over the first bytes of every
	// connection before any request (handshake.go): it returns the answer
	// to write and the bytes it used once the handshake is whole, used 0
	// while it waits for more bytes, or an error: the connection is then
	// closed. A connection that passed it speaks the text protocol only.
	// A connection that has not passed it within HandshakeTimeout
	// (default 2s) is closed.
	Handshake        func(buf []byte) (reply []byte, used int, err error)
	HandshakeTimeout time.Duration
	// ClusterLocks, when set, returns the handler that serves lock and
	// unlock for key (a cluster pool, at the key's primary owner), or nil
	// when the servants do (a local lease).
	ClusterLocks func(key []byte) Handler
}

func (c *Config) defaults() {
	if c.MaxConns == 0 {
		c.MaxConns = 4096
	}
	if c.MaxInflight == 0 {
		c.MaxInflight = 1024
	}
	if c.MaxInbound == 0 {
		c.MaxInbound = 8 << 20
	}
	if c.MaxOutbound == 0 {
		c.MaxOutbound = 4 << 20
	}
	if c.MaxPartial == 0 {
		c.MaxPartial = 256 << 20
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = 10 * time.Second
	}
	if c.Version == "" {
		c.Version = "0.0.0"
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.MaxThriftFrame == 0 {
		c.MaxThriftFrame = 16 << 20
	}
	if c.ThriftWorkers == 0 {
		c.ThriftWorkers = 64
	}
	if c.ThriftQueue == 0 {
		c.ThriftQueue = 4096
	}
	if c.UnixMode == 0 {
		c.UnixMode = 0o660
	}
	if c.HandshakeTimeout == 0 {
		c.HandshakeTimeout = 2 * time.Second
	}
}

// Server is one listening faed front end. Create it with New and start it
// with Run.
type Server struct {
	gnet.BuiltinEventEngine

	cfg     Config
	h       Handler
	parser  memcache.Parser
	started time.Time
	eng     gnet.Engine
	booted  chan struct{}
	// ctx is given to Thrift calls; cancelled once the server stopped.
	ctx     context.Context
	workers workers

	draining atomic.Bool
	inflight atomic.Int64 // slots waiting for an upstream, all connections
	partial  atomic.Int64 // bytes of conn.part buffers, all connections

	// The event loops (eventloop.Loop), replaced (never changed) when one
	// is added; closing and stopped are their Closing and Stopped.
	loopMu  sync.Mutex
	loops   atomic.Pointer[[]*loop]
	closing chan struct{}
	stopped chan struct{}

	mu    sync.Mutex
	conns map[*conn]struct{}

	stats counters
	lim   atomic.Pointer[Limits] // see SetLimits
}

// counters are the server's own memcached stats.
type counters struct {
	currConns     atomic.Int64
	totalConns    atomic.Uint64
	rejectedConns atomic.Uint64
	bytesRead     atomic.Uint64
	bytesWritten  atomic.Uint64
}

// New returns a server for cfg that hands requests to h.
func New(cfg Config, h Handler) *Server {
	cfg.defaults()
	s := &Server{
		cfg:     cfg,
		h:       h,
		parser:  memcache.Parser{MaxKeyLen: cfg.MaxKeyLen, MaxItemSize: cfg.MaxItemSize},
		conns:   map[*conn]struct{}{},
		booted:  make(chan struct{}),
		closing: make(chan struct{}),
		stopped: make(chan struct{}),
		ctx:     context.Background(),
	}
	s.SetLimits(Limits{MaxConns: cfg.MaxConns, MaxInflight: cfg.MaxInflight, MaxInbound: cfg.MaxInbound,
		MaxOutbound: cfg.MaxOutbound, IdleTimeout: cfg.IdleTimeout})
	return s
}

// Run serves until ctx is done, then shuts down gracefully: it refuses new
// connections, lets every connection answer what it has read and close
// (drain.go), for up to ShutdownTimeout, then stops the event loops.
func (s *Server) Run(ctx context.Context) error {
	s.started = time.Now()
	if s.cfg.Thrift != nil {
		callCtx, cancel := context.WithCancel(context.Background())
		s.ctx = callCtx
		s.workers.start(callCtx, s.cfg.Thrift, s.cfg.ThriftWorkers, s.cfg.ThriftQueue)
		// After the engine stopped no loop submits a call: the workers
		// finish the queued ones (their replies go nowhere) and exit.
		defer func() {
			cancel()
			s.workers.stop()
		}()
	}
	addr, err := claim(s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	opts := []gnet.Option{
		gnet.WithTicker(true),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithLogger(gnetLogger{s.cfg.Logger}),
		gnet.WithReuseAddr(true),
		// Each loop accepts on a listener of its own (SO_REUSEPORT): a
		// new connection costs no hand-off from gnet's accepting thread
		// to its loop (a queue, an eventfd write and two thread
		// wake-ups). gnet keeps its accepting thread when a unix socket
		// listens too: AF_UNIX has no SO_REUSEPORT.
		gnet.WithReusePort(true),
	}
	opts = append(opts, gnet.WithNumEventLoop(LoopCount(s.cfg.Loops, runtime.GOMAXPROCS(0))))
	addrs := []string{"tcp://" + addr}
	if s.cfg.Unix != "" {
		addrs = append(addrs, "unix://"+s.cfg.Unix)
	}
	errc := make(chan error, 1)
	go func() {
		err := gnet.Rotate(s, addrs, opts...)
		close(s.stopped)
		errc <- err
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("server: %w", err)
	case <-ctx.Done():
	}
	select {
	case <-s.booted:
	case err := <-errc:
		return err
	}
	s.draining.Store(true)
	if !s.drain() {
		s.cfg.Logger.Warn("shutdown timeout: closing connections with requests unanswered",
			"conns", s.stats.currConns.Load(), "inflight", s.inflight.Load())
	}
	stopCtx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	close(s.closing)
	if err := s.eng.Stop(stopCtx); err != nil {
		return fmt.Errorf("server: stop: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("server: %w", err)
	}
	return nil
}

// drain waits, up to ShutdownTimeout, until every client connection has
// answered what it read and closed (see drain.go), waking each one on a
// timer so that idle ones finish too. It reports whether all did.
func (s *Server) drain() bool {
	deadline := time.NewTimer(s.cfg.ShutdownTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	var conns []*conn
	for {
		s.mu.Lock()
		conns = conns[:0]
		for cn := range s.conns {
			conns = append(conns, cn)
		}
		s.mu.Unlock()
		if len(conns) == 0 {
			return true
		}
		for _, cn := range conns {
			_ = cn.c.Wake(nil)
		}
		select {
		case <-deadline.C:
			return false
		case <-tick.C:
		}
	}
}

// OnBoot records the engine, gives the unix socket its mode and logs
// where the server listens.
func (s *Server) OnBoot(eng gnet.Engine) gnet.Action {
	s.eng = eng
	if s.cfg.Unix != "" {
		if err := os.Chmod(s.cfg.Unix, s.cfg.UnixMode); err != nil {
			s.cfg.Logger.Error("listen_unix: cannot set the socket's mode", "path", s.cfg.Unix, "err", err)
			return gnet.Shutdown
		}
		s.cfg.Logger.Info("faed listening", "unix", s.cfg.Unix, "mode", fmt.Sprintf("%04o", s.cfg.UnixMode))
	}
	s.cfg.Logger.Info("faed listening", "addr", s.cfg.Addr, "protocols", s.protocols())
	close(s.booted)
	return gnet.None
}

// OnOpen admits a connection unless the server is full or shutting down.
func (s *Server) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	if lc, ok := c.Context().(eventloop.Conn); ok {
		return s.upstreamOpen(c, lc)
	}
	if s.draining.Load() {
		return nil, gnet.Close
	}
	if s.stats.currConns.Add(1) > int64(s.limits().MaxConns) {
		s.stats.currConns.Add(-1)
		s.stats.rejectedConns.Add(1)
		// memcached's words when it is over its connection limit.
		return []byte("ERROR Too many open connections\r\n"), gnet.Close
	}
	s.stats.totalConns.Add(1)
	cn := &conn{s: s, c: c, loop: s.loopOf(c.EventLoop()), opened: time.Now().UnixNano()}
	cn.pending = cn.pend0[:0]
	cn.lastActive.Store(cn.opened)
	c.SetContext(cn)
	s.mu.Lock()
	s.conns[cn] = struct{}{}
	s.mu.Unlock()
	return nil, gnet.None
}

// OnClose forgets the connection; replies still pending upstream are dropped.
func (s *Server) OnClose(c gnet.Conn, err error) gnet.Action {
	cn, ok := c.Context().(*conn)
	if !ok {
		if lc, ok := c.Context().(eventloop.Conn); ok {
			return s.upstreamClose(c, lc, err)
		}
		return gnet.None
	}
	cn.closed = true
	s.stats.currConns.Add(-1)
	s.inflight.Add(-int64(cn.asyncPending()))
	cn.pending = nil
	if sl := cn.spare; sl != nil {
		// Not handed to anyone: the loop's next connection takes it.
		cn.spare = nil
		sl.buf = sl.buf[:0]
		cn.loop.putSlot(sl)
	}
	cn.dropPartial()
	s.mu.Lock()
	delete(s.conns, cn)
	s.mu.Unlock()
	return gnet.None
}

// OnTraffic parses and serves what arrived, and writes finished replies.
func (s *Server) OnTraffic(c gnet.Conn) gnet.Action {
	cn, ok := c.Context().(*conn)
	if !ok {
		if lc, ok := c.Context().(eventloop.Conn); ok {
			return s.upstreamTraffic(c, lc)
		}
		return gnet.Close
	}
	act := cn.serve()
	cn.loop.Flush()
	return act
}

// OnTick closes idle connections and wakes connections held back by a full
// outbound buffer, whose writes gnet reports to no callback.
func (s *Server) OnTick() (time.Duration, gnet.Action) {
	now := time.Now().UnixNano()
	idle := s.limits().IdleTimeout.Nanoseconds()
	var held, stale []*conn
	s.mu.Lock()
	for cn := range s.conns {
		if cn.held.Load() {
			held = append(held, cn)
		} else if s.unproven(cn, now) {
			stale = append(stale, cn)
		} else if idle > 0 && now-cn.lastActive.Load() > idle && cn.inflight.Load() == 0 {
			stale = append(stale, cn)
		}
	}
	s.mu.Unlock()
	for _, cn := range held {
		_ = cn.c.Wake(nil)
	}
	for _, cn := range stale {
		_ = cn.c.Close()
	}
	if len(held) > 0 {
		return 2 * time.Millisecond, gnet.None
	}
	return 100 * time.Millisecond, gnet.None
}

// LoopCount is the number of event loops to run: loops when set, else one
// per two CPUs (at least one). Run passes GOMAXPROCS as cpus: unlike
// NumCPU it follows a container's CPU quota, so a sidecar limited to 2
// CPUs on a 64-core node runs one loop, not 32 (each with its own
// connections to every upstream server). A sidecar shares its host with the
// application it serves; on 2 cores one loop gave lower p99 latency in
// every bench scenario and more throughput with pipelining than two (see
// bench/results), two loops 7-15% more throughput without pipelining.
func LoopCount(loops, cpus int) int {
	if loops > 0 {
		return loops
	}
	return max(1, cpus/2)
}
