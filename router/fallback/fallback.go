package fallback

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fae-sidecar/fae/proto/memcache"
	"github.com/fae-sidecar/fae/router/spool"
	"github.com/fae-sidecar/fae/upstream"
	"github.com/fae-sidecar/fae/upstream/local"
)

// Upstream is the memcache pool a Pool wraps (upstream/memcache.Pool).
type Upstream interface {
	upstream.Pool
	// Home returns the address of the server key is placed on.
	Home(key []byte) string
	// Addrs returns the addresses of the pool's servers.
	Addrs() []string
	// Unreached reports whether reply is the pool's own answer for a
	// request its server did not take.
	Unreached(reply []byte) bool
}

// Defaults of Config.
const (
	DefaultWorkers     = 8
	DefaultQueue       = 4096
	DefaultRetryOpen   = time.Second
	DefaultTimeout     = 500 * time.Millisecond
	DefaultMaxBackoff  = 5 * time.Second
	DefaultMinBackoff  = 50 * time.Millisecond
	defaultLockTimeout = 100 * time.Millisecond
)

// Config configures a Pool.
type Config struct {
	// Pool is the pool's name, written in each spool entry and the logs.
	Pool string
	// Path is the spool's file (faed: <data_dir>/spool/<pool>.db); its
	// directory is created if missing.
	Path string
	// MaxBytes bounds the embedded store (default 64 MiB); MaxItemSize
	// is faed's max_item_size.
	MaxBytes    int64
	MaxItemSize int
	// Timeout bounds one replayed write (dialling included). Default 500ms.
	Timeout time.Duration
	// MaxTries is the spool's tries before an entry is dead-lettered.
	MaxTries int
	// MinBackoff and MaxBackoff bound the replayer's pause after a failed
	// try. Defaults 50ms and 5s.
	MinBackoff, MaxBackoff time.Duration
	// Workers is the number of worker goroutines (keys are spread over
	// them by hash) and Queue the jobs each may hold. Defaults 8 and 4096.
	Workers, Queue int
	// RetryOpen is how often a spool that could not be opened is tried
	// again. Default 1s.
	RetryOpen time.Duration
	Logger    *slog.Logger
	// Now is the clock of the embedded store and of the absolute exptimes
	// written to the spool; nil means time.Now.
	Now func() time.Time
}

// Pool is a memcache pool with on_failure: memory. Safe for concurrent use.
type Pool struct {
	next   Upstream
	cfg    Config
	log    *slog.Logger
	local  *local.Store
	parser memcache.Parser
	seed   maphash.Seed

	sp      atomic.Pointer[spool.Spool] // nil until opened
	shards  []*shard
	pending atomic.Int64 // keys in the shards' maps: 0 lets reads through untouched

	closeMu sync.RWMutex
	closed  bool
	ctx     context.Context
	cancel  context.CancelFunc
	workers sync.WaitGroup // the workers
	bg      sync.WaitGroup // the opener and the replayers

	watches sync.Pool // *watch

	srvMu   sync.Mutex
	servers map[string]*serverCounts
	senders map[string]*sender // used by the server's replayer only

	st      counts
	lastLog atomic.Int64 // unix nanos of the last spool error logged
}

// shard is one worker's keys: its goroutine serves every job of them, in
// the order they came.
type shard struct {
	mu   sync.Mutex // held while a job runs, and to look keys up
	keys map[string]*keyState
	jobs chan *job
}

// keyState is what is in flight for a key: jobs of it not yet run by its
// worker, the spool id of its last spooled write (0: none queued), and its
// writes sent to the server and not answered yet. A key is local (its
// requests go to the worker, the embedded store holds its value) while it
// has jobs or spooled writes.
type keyState struct {
	inflight int
	last     uint64
	upstream int
}

func (st *keyState) local() bool { return st.inflight > 0 || st.last != 0 }

// stateOf returns key's state in sh, creating it; sh.mu is held.
func (p *Pool) stateOf(sh *shard, key []byte) *keyState {
	st := sh.keys[string(key)]
	if st == nil {
		st = &keyState{}
		sh.keys[string(key)] = st
		p.pending.Add(1)
	}
	return st
}

// tidy drops key's local copy once it is no longer local (local: the
// embedded store may hold one), and its state once nothing is in flight;
// sh.mu is held.
func (p *Pool) tidy(sh *shard, key []byte, st *keyState, local bool) {
	if st.local() {
		return
	}
	if local {
		p.localDelete(key)
	}
	if st.upstream == 0 {
		delete(sh.keys, string(key))
		p.pending.Add(-1)
	}
}

type counts struct {
	spooled, spoolErrors, localReads, refused atomic.Uint64
}

type serverCounts struct {
	replayed, dead atomic.Uint64
}

// New wraps next. It opens the spool (retrying in the background when it
// cannot, meanwhile answering failed writes SERVER_ERROR), loads what the
// spool holds into the embedded store and starts the replayers and
// workers. Close stops them and closes next.
func New(next Upstream, cfg Config) *Pool {
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.Queue <= 0 {
		cfg.Queue = DefaultQueue
	}
	if cfg.RetryOpen <= 0 {
		cfg.RetryOpen = DefaultRetryOpen
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	p := &Pool{
		next: next, cfg: cfg, log: cfg.Logger.With("pool", cfg.Pool),
		local:   local.New(local.Config{MaxBytes: cfg.MaxBytes, MaxItemSize: cfg.MaxItemSize, Now: cfg.Now}),
		parser:  memcache.Parser{MaxItemSize: cfg.MaxItemSize},
		seed:    maphash.MakeSeed(),
		servers: map[string]*serverCounts{},
		senders: map[string]*sender{},
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.watches.New = func() any { return &watch{p: p} }
	for range cfg.Workers {
		sh := &shard{keys: map[string]*keyState{}, jobs: make(chan *job, cfg.Queue)}
		p.shards = append(p.shards, sh)
		p.workers.Go(func() { p.work(sh) })
	}
	for _, a := range next.Addrs() {
		p.server(a)
	}
	// Open at once, so that a restart loads its spool before serving; on
	// failure keep trying.
	if err := p.open(); err != nil {
		p.log.Error("fallback: spool unavailable: writes that fail are answered SERVER_ERROR until it opens", "path", cfg.Path, "error", err)
		p.bg.Go(p.reopen)
	}
	return p
}

// open opens the spool, loads its entries into the embedded store and
// starts the replayers.
func (p *Pool) open() error {
	if err := os.MkdirAll(filepath.Dir(p.cfg.Path), 0o700); err != nil {
		return err
	}
	sp, err := spool.Open(spool.Config{Path: p.cfg.Path, MaxTries: p.cfg.MaxTries, LockTimeout: defaultLockTimeout, Logger: p.log})
	if err != nil {
		return err
	}
	loaded := 0
	for _, srv := range sp.Servers() {
		entries, err := sp.Entries(srv)
		if err != nil {
			sp.Close()
			return err
		}
		for _, e := range entries {
			p.load(e)
			loaded++
		}
	}
	if loaded > 0 {
		p.log.Info("fallback: spool reopened: replaying what it holds", "entries", loaded)
	}
	p.sp.Store(sp)
	addrs := p.next.Addrs()
	p.bg.Go(func() {
		sp.ReplayAll(p.ctx, addrs, spool.ReplayConfig{
			Send: p.send, Settled: p.settled,
			MinBackoff: p.cfg.MinBackoff, MaxBackoff: p.cfg.MaxBackoff,
		})
	})
	return nil
}

// reopen tries to open the spool every RetryOpen until it opens or the
// pool closes.
func (p *Pool) reopen() {
	t := time.NewTicker(p.cfg.RetryOpen)
	defer t.Stop()
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-t.C:
		}
		if err := p.open(); err == nil {
			p.log.Info("fallback: spool open", "path", p.cfg.Path)
			return
		}
	}
}

// load applies a spooled entry to the embedded store at start and marks
// its key pending.
func (p *Pool) load(e spool.Entry) {
	var req memcache.Request
	if _, err := p.parser.Parse(e.Request, &req); err == nil {
		p.local.Serve(&req, nil, nil)
	}
	sh := p.shardOf(e.Key)
	sh.mu.Lock()
	p.stateOf(sh, e.Key).last = e.ID
	sh.mu.Unlock()
}

func (p *Pool) shardOf(key []byte) *shard {
	return p.shards[maphash.Bytes(p.seed, key)%uint64(len(p.shards))]
}

func (p *Pool) server(addr string) *serverCounts {
	p.srvMu.Lock()
	defer p.srvMu.Unlock()
	c := p.servers[addr]
	if c == nil {
		c = &serverCounts{}
		p.servers[addr] = c
	}
	return c
}

// settled is the replayer's Settled: once a key's last spooled write has
// left the spool and no job of it waits, its local copy is dropped and
// its reads go to the server again.
func (p *Pool) settled(e spool.Entry, dead bool) {
	c := p.server(e.Server)
	if dead {
		c.dead.Add(1)
	} else {
		c.replayed.Add(1)
	}
	sh := p.shardOf(e.Key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	st := sh.keys[string(e.Key)]
	if st == nil || st.last != e.ID {
		return // a newer write of the key is queued
	}
	st.last = 0
	p.tidy(sh, e.Key, st, true)
}

// Close stops the workers (answering what they hold), the replayers and
// the spool, then closes the wrapped pool. Calls after the first do
// nothing.
func (p *Pool) Close() error {
	p.closeMu.Lock()
	if p.closed {
		p.closeMu.Unlock()
		return nil
	}
	p.closed = true
	p.closeMu.Unlock()
	p.cancel()
	for _, sh := range p.shards {
		close(sh.jobs)
	}
	p.workers.Wait()
	p.bg.Wait()
	err := p.next.Close()
	p.srvMu.Lock()
	for _, s := range p.senders {
		s.close()
	}
	p.srvMu.Unlock()
	if sp := p.sp.Load(); sp != nil {
		err = errors.Join(err, sp.Close())
	}
	return err
}

// ServerStats are one server's spool counts.
type ServerStats struct {
	Addr     string
	Pending  int    // writes spooled, not yet delivered
	Replayed uint64 // writes delivered since start
	Dead     uint64 // writes moved to the dead letters since start
	DeadHeld int    // writes in the dead letters (this run and earlier ones)
}

// ServerStats returns the spool counts of every server, the pool's first,
// then those left in the spool by an earlier configuration.
func (p *Pool) ServerStats() []ServerStats {
	sp := p.sp.Load()
	var st spool.Stats
	if sp != nil {
		st = sp.Stats()
	}
	seen := map[string]bool{}
	var out []ServerStats
	add := func(addr string) {
		if seen[addr] {
			return
		}
		seen[addr] = true
		c := p.server(addr)
		ss := st.Servers[addr]
		out = append(out, ServerStats{Addr: addr, Pending: ss.Pending, DeadHeld: ss.Dead, Replayed: c.replayed.Load(), Dead: c.dead.Load()})
	}
	for _, a := range p.next.Addrs() {
		add(a)
	}
	for a := range st.Servers {
		add(a)
	}
	return out
}

// Stats implements upstream.Pool: the wrapped pool's, then the spool's
// (spool_pending: writes not yet delivered; spool_replayed: delivered;
// spool_superseded: dropped for a newer write of their key; spool_dead_lettered; spool_errors: writes answered SERVER_ERROR because
// the spool could not be written), per pool and per server
// ("spool_pending:host:port").
func (p *Pool) Stats(add func(name string, value uint64)) {
	p.next.Stats(add)
	var pending, replayed, dead uint64
	servers := p.ServerStats()
	for _, s := range servers {
		pending += uint64(s.Pending)
		replayed += s.Replayed
		dead += s.Dead
	}
	open, superseded := uint64(0), uint64(0)
	if sp := p.sp.Load(); sp != nil {
		open, superseded = 1, sp.Stats().Superseded
	}
	add("spool_open", open)
	add("spool_pending", pending)
	add("spool_appended", p.st.spooled.Load())
	add("spool_replayed", replayed)
	add("spool_superseded", superseded)
	add("spool_dead_lettered", dead)
	add("spool_errors", p.st.spoolErrors.Load())
	add("fallback_reads", p.st.localReads.Load())
	add("fallback_refused", p.st.refused.Load())
	for _, s := range servers {
		add("spool_pending:"+s.Addr, uint64(s.Pending))
		add("spool_replayed:"+s.Addr, s.Replayed)
		add("spool_dead_lettered:"+s.Addr, s.Dead)
	}
}

var errClosed = fmt.Errorf("fallback: pool closed")
