package pipeline

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fae-sidecar/fae/eventloop"
)

// Op is one request on a pipelined connection, as the connection sees it:
// the bytes to send, and how to find and hand over its reply. The
// pipeline's owner implements it, on a pointer type (queueing one then
// costs nothing), and knows the protocol; the pipeline knows only that a
// server answers a connection's requests in order.
//
// Each Op the pipeline takes is answered exactly once, by Done or Fail,
// after which the pipeline forgets it (the owner may recycle it there).
type Op interface {
	// Encode appends the request's bytes to b. It is called once, within
	// Enqueue: what it encodes may be a view that dies when Enqueue
	// returns.
	Encode(b []byte) []byte
	// Scan frames the op's reply, which starts at b[0]. It is called
	// again with a longer b (the same start, more bytes) until Progress
	// says Done, and must not look past the reply. An error means b
	// cannot be the op's reply: the stream is out of step, and the
	// connection is cut (ReasonBadReply).
	Scan(b []byte) (Progress, error)
	// Done hands over the reply, b[:Progress.N] of the last Scan, valid
	// only during the call. It reports false when the reply, framed
	// whole, still proves the connection wrong (a probe answered with
	// something else): the connection is cut then.
	Done(reply []byte) bool
	// Fail answers the op without a reply, for why.
	Fail(why Reason)
}

// Progress is how far Op.Scan got in a reply.
type Progress struct {
	// N is the length of the reply's complete parts so far; the whole
	// reply when Done.
	N int
	// Data is the length of a data block that starts at N, or 0: a reader
	// may wait until N+Data bytes are in before scanning again.
	Data int
	// Done reports that the reply is complete.
	Done bool
}

// Defaults applied by New to zero fields of Config.
const (
	DefaultConnsPerServer = 2
	DefaultLoopConns      = 1
	DefaultTimeout        = 500 * time.Millisecond
	DefaultDialTimeout    = 500 * time.Millisecond
	DefaultMaxPending     = 1024
	DefaultMaxPendingSize = 4 << 20
	DefaultHealthInterval = time.Second
	DefaultHoldFor        = 20 * time.Microsecond
	DefaultMinBackoff     = 20 * time.Millisecond
	DefaultMaxBackoff     = time.Second
)

// Config configures a Pipeline. Zero fields take the defaults above.
type Config struct {
	// Servers are the addresses (host:port) of the servers.
	Servers []string
	// ConnsPerServer is the number of connections of the goroutine
	// transport to each server, shared by every caller.
	ConnsPerServer int
	// Loops enables the loop transport: Lane returns each event loop's
	// own connections.
	Loops bool
	// LoopConns is the number of connections to each server each event
	// loop opens, on first use, for the loop transport.
	LoopConns int
	// Timeout bounds one request from Enqueue to its reply: a connection
	// whose oldest request is older, and that has read no reply for as
	// long, is cut and its requests fail (ReasonTimeout).
	Timeout time.Duration
	// DialTimeout bounds one connection attempt, Dial included.
	DialTimeout time.Duration
	// MaxPending bounds the requests queued or in flight on one
	// connection (probes not counted); past it Enqueue refuses
	// (ReasonQueueFull).
	MaxPending int
	// MaxPendingSize bounds the bytes of requests waiting to be written on
	// one connection; past it Enqueue refuses. A single larger request is
	// still taken when nothing else waits.
	MaxPendingSize int
	// HealthInterval is how long a connection may stay idle before it is
	// probed.
	HealthInterval time.Duration
	// HoldFor bounds the loop transport's hold (lconn.write): while
	// earlier requests are unanswered, new ones wait for the server's next
	// bytes only if the connection's last write is younger than HoldFor;
	// older, they leave when the loop's event ends. On loopback a server
	// often answers within it, so under load one write carries many
	// requests; across a network hop, where the answer takes a round trip,
	// only the requests that come within HoldFor of a write wait for it.
	// Negative: never hold.
	HoldFor time.Duration
	// MinBackoff and MaxBackoff bound the wait between failed connection
	// attempts: MinBackoff after the first failure, doubling up to
	// MaxBackoff. A session that was ready and broke redials at once, and
	// Redial cuts a wait short.
	MinBackoff, MaxBackoff time.Duration
	// Probe returns a new health check: a request any healthy server
	// answers, whose Done reports whether the answer proves it. Every
	// session starts with one and is ready only once it is answered; idle
	// connections are probed every HealthInterval. Required.
	Probe func() Op
	// Dial opens a connection to addr; ctx carries DialTimeout. nil: TCP,
	// no Nagle delay. A protocol with a handshake does it here.
	Dial func(ctx context.Context, addr string) (net.Conn, error)
}

// WithDefaults returns c with its zero fields set to the defaults (Dial
// included; Probe stays as it is).
func (c Config) WithDefaults() Config {
	if c.ConnsPerServer == 0 {
		c.ConnsPerServer = DefaultConnsPerServer
	}
	if c.LoopConns == 0 {
		c.LoopConns = DefaultLoopConns
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.MaxPending == 0 {
		c.MaxPending = DefaultMaxPending
	}
	if c.MaxPendingSize == 0 {
		c.MaxPendingSize = DefaultMaxPendingSize
	}
	if c.HealthInterval == 0 {
		c.HealthInterval = DefaultHealthInterval
	}
	if c.HoldFor == 0 {
		c.HoldFor = DefaultHoldFor
	}
	if c.MinBackoff == 0 {
		c.MinBackoff = DefaultMinBackoff
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = max(DefaultMaxBackoff, c.MinBackoff)
	}
	if c.Dial == nil {
		c.Dial = dialTCP
	}
	return c
}

// errNoProbe is New's panic without Config.Probe: no session could ever
// become ready.
var errNoProbe = errors.New("pipeline: Config.Probe is required")

// Pipeline keeps long-lived pipelined connections to a set of servers and
// carries Ops over them. It is safe for concurrent use. Create it with New;
// Close stops its goroutines and fails what is still queued.
type Pipeline struct {
	cfg     Config
	servers []*server
	timeout int64 // cfg.Timeout in nanoseconds of clock()
	holdFor int64 // cfg.HoldFor in nanoseconds of clock()
	start   time.Time

	// loops holds the loop transport's state of each event loop that
	// asked for a Lane (see loopconn_pool.go); nil without cfg.Loops.
	loops *eventloop.PerLoop[Lane]

	timeouts   atomic.Uint64 // connections cut because a reply was late
	reconnects atomic.Uint64 // connections opened after the first

	ctx     context.Context // cancelled by Close; stops every goroutine
	cancel  context.CancelFunc
	wg      sync.WaitGroup // every goroutine the pipeline starts
	closing atomic.Bool
	once    sync.Once
}

// server is one server and its connections.
type server struct {
	addr  string
	conns []*conn
	// ready counts connections in stateReady, of both transports; the
	// server is up when > 0.
	ready atomic.Int32
	// dialed is set once no connection is in its first dial (see Down).
	dialed atomic.Bool
	// suspects counts the timeouts of the server's connections, of either
	// transport; a loop connection that sees it change proves itself again
	// (see conn.suspect).
	suspects atomic.Uint64
}

// New applies cfg's defaults and starts connecting to the servers in the
// background (the goroutine transport's connections; the loop transport's
// open on first use). Requests enqueued before a connection is up wait for
// it (up to Timeout); once a server is known to be down, they fail at once.
func New(cfg Config) *Pipeline {
	if cfg.Probe == nil {
		panic(errNoProbe)
	}
	cfg = cfg.WithDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	p := &Pipeline{
		cfg:     cfg,
		timeout: int64(cfg.Timeout),
		holdFor: int64(cfg.HoldFor),
		start:   time.Now(),
		ctx:     ctx,
		cancel:  cancel,
	}
	if cfg.Loops {
		p.loops = &eventloop.PerLoop[Lane]{New: p.newLane}
	}
	for _, addr := range cfg.Servers {
		s := &server{addr: addr}
		for range cfg.ConnsPerServer {
			s.conns = append(s.conns, newConn(p, s))
		}
		p.servers = append(p.servers, s)
	}
	for _, s := range p.servers {
		for _, c := range s.conns {
			p.wg.Add(1)
			go c.run()
		}
	}
	p.wg.Add(1)
	go p.watch()
	return p
}

// clock is the pipeline's monotonic time in nanoseconds.
func (p *Pipeline) clock() int64 { return int64(time.Since(p.start)) }

// Lane returns the loop transport's connections of event loop l, made on
// first use (call it on l), or nil when requests from l take the
// goroutine transport: l is nil, the loop transport is off, or the
// pipeline is closing. A request enqueued on a lane is answered on l.
func (p *Pipeline) Lane(l eventloop.Loop) *Lane {
	if p.loops == nil || l == nil || p.closing.Load() {
		return nil
	}
	return p.loops.Get(l)
}

// PerServer is the number of connections to each server on lane's
// transport (nil: the goroutine transport): Enqueue's connection number
// cn is server cn/PerServer's connection cn%PerServer.
func (p *Pipeline) PerServer(lane *Lane) int {
	if lane != nil {
		return p.cfg.LoopConns
	}
	return p.cfg.ConnsPerServer
}

// Enqueue queues o on connection number cn (see PerServer) of lane's
// transport (nil: the goroutine transport), or, on the goroutine
// transport, on another connection of the same server when that one does
// not take requests. It returns why it could not (o is then not taken:
// neither Done nor Fail will be called). It never blocks on the network.
// On a lane it must be called on the lane's loop, and o is answered there;
// on the goroutine transport o is answered from a reader goroutine, or
// from whichever goroutine fails it, never from within Enqueue.
func (p *Pipeline) Enqueue(lane *Lane, cn int, o Op) Reason {
	if lane != nil {
		return lane.enqueue(cn, o)
	}
	n := p.cfg.ConnsPerServer
	return p.servers[cn/n].enqueue(cn%n, o)
}

// Redial has every connection to server s that waits between connection
// attempts (its backoff) dial now, on both transports: its owner learned
// that the server is back (a peer the membership reports up again), so its
// requests need not fail fast for what is left of a backoff of up to
// MaxBackoff. A connection that is dialling or connected takes the hint at
// its next wait, which it then skips once. It closes nothing and takes no
// lock an event loop holds; safe for concurrent use, from any goroutine.
func (p *Pipeline) Redial(s int) {
	sv := p.servers[s]
	for _, c := range sv.conns {
		hurry(c.hurry)
	}
	if p.loops == nil {
		return
	}
	// A lane's conns are fixed before PerLoop publishes it, and hurry is
	// a channel: nothing the loop owns is touched here.
	p.loops.All(func(_ eventloop.Loop, lp *Lane) {
		for _, lc := range lp.conns {
			if lc.srv == sv {
				hurry(lc.hurry)
			}
		}
	})
}

// hurry wakes a dialer's backoff (cap 1) without blocking.
func hurry(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// nextBackoff is the wait after a failed attempt that followed a wait of d.
func (p *Pipeline) nextBackoff(d time.Duration) time.Duration {
	return min(max(2*d, p.cfg.MinBackoff), p.cfg.MaxBackoff)
}

// Down reports whether server s refuses requests on every connection: no
// connection is ready, and none is in its first dial (when requests queue
// rather than fail). A server is up again once a new session has answered
// its probe. A connection is in its first dial (stateConnecting) only
// once, at the start, so after every connection has left it the ready
// count alone answers, without locks.
func (p *Pipeline) Down(s int) bool {
	sv := p.servers[s]
	if !sv.dialed.Load() {
		for _, c := range sv.conns {
			c.mu.Lock()
			first := c.state == stateConnecting
			c.mu.Unlock()
			if first {
				return false
			}
		}
		sv.dialed.Store(true)
	}
	return sv.ready.Load() == 0
}

// Ready returns the number of ready connections to server s, of both
// transports, without locks: s is up when it is above 0.
func (p *Pipeline) Ready(s int) int { return int(max(p.servers[s].ready.Load(), 0)) }

// Timeouts returns the number of connections to server s cut because a
// reply was late.
func (p *Pipeline) Timeouts(s int) uint64 { return p.servers[s].suspects.Load() }

// Stats reports the connections cut because a reply was late (timeouts)
// and those opened after the first of each connection (reconnects), over
// every server.
func (p *Pipeline) Stats() (timeouts, reconnects uint64) {
	return p.timeouts.Load(), p.reconnects.Load()
}

// Close stops every goroutine of the pipeline and fails what is still
// queued with ReasonPoolClosed. Ops enqueued after Close fail at once. It
// waits for the goroutines to end.
func (p *Pipeline) Close() {
	p.once.Do(func() {
		p.closing.Store(true)
		p.cancel()
		for _, s := range p.servers {
			for _, c := range s.conns {
				c.close()
			}
		}
		p.closeLoops()
		p.wg.Wait()
	})
}

// watch is the pipeline's watchdog: it fails connections whose oldest
// request is late and probes idle ones. One goroutine for the whole
// pipeline, so timeouts cost no timer per request.
func (p *Pipeline) watch() {
	defer p.wg.Done()
	tick := min(p.cfg.Timeout, p.cfg.HealthInterval) / 8
	tick = max(min(tick, 100*time.Millisecond), time.Millisecond)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-t.C:
		}
		now := p.clock()
		for _, s := range p.servers {
			for _, c := range s.conns {
				c.check(now)
			}
		}
		p.checkLoops()
	}
}

// entry is one op in a connection's queue.
type entry struct {
	op    Op
	enq   int64 // clock() when it was queued; late after enq+timeout
	probe bool  // a health probe (cfg.Probe), not a caller's request
}

// late reports whether e's request is past its deadline at now.
func (p *Pipeline) late(e entry, now int64) bool { return e.enq+p.timeout < now }
