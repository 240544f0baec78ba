package memcache

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/fae-sidecar/fae/proto/memcache"
	"github.com/fae-sidecar/fae/upstream/breaker"
	"github.com/fae-sidecar/fae/upstream/memcache/placement"
	"github.com/fae-sidecar/fae/upstream/pipeline"
)

// Defaults applied by New to zero fields of Config (the pipeline's).
const (
	DefaultConnsPerServer = pipeline.DefaultConnsPerServer
	DefaultTimeout        = pipeline.DefaultTimeout
	DefaultDialTimeout    = pipeline.DefaultDialTimeout
	DefaultMaxPending     = pipeline.DefaultMaxPending
	DefaultMaxPendingSize = pipeline.DefaultMaxPendingSize
	DefaultHealthInterval = pipeline.DefaultHealthInterval
	DefaultLoopConns      = pipeline.DefaultLoopConns
)

// Transport is how requests reach the servers.
type Transport string

const (
	// TransportLoop (the default): a request that arrives on one of the
	// server's event loops (its waiter is an upstream.LoopWaiter) travels
	// on that loop's own connections to the server, written and answered
	// on the loop itself: no lock, no goroutine hand-off, no wake-up.
	// Other requests take TransportGoroutine.
	TransportLoop Transport = "loop"
	// TransportGoroutine: every request is queued on one of the pool's
	// shared connections, each with a writer and a reader goroutine.
	TransportGoroutine Transport = "goroutine"
)

// Server is one memcached server of a pool: its address, weight and
// (under DistTwemproxy) name, as key placement sees them.
type Server = placement.Server

// Distribution is how keys are placed on servers (package placement).
type Distribution = placement.Distribution

// The distributions; see package placement for what each one matches.
const (
	// DistRing is fae's own ring: serialx/hashring's MD5 points, 160 per
	// unit of weight. The default.
	DistRing = placement.Ring
	// DistKetama places keys as libmemcached (PHP's memcached extension
	// with OPT_LIBKETAMA_COMPATIBLE) does.
	DistKetama = placement.Ketama
	// DistTwemproxy places keys as twemproxy's "distribution: ketama",
	// "hash: fnv1a_64".
	DistTwemproxy = placement.Twemproxy
	// DistConsistent places keys as libmemcached's
	// MEMCACHED_DISTRIBUTION_CONSISTENT with one_at_a_time.
	DistConsistent = placement.Consistent
	// DistConsistentMD5 is DistConsistent with MD5.
	DistConsistentMD5 = placement.ConsistentMD5
)

// Config configures a Pool. Zero fields take the documented defaults.
type Config struct {
	// Servers are the memcached servers; at least one.
	Servers []Server
	// ConnsPerServer is the number of pipelined connections kept open to
	// each server by the goroutine transport. Default 2.
	ConnsPerServer int
	// Transport is TransportLoop (the default) or TransportGoroutine.
	Transport Transport
	// LoopConns is the number of connections to each server that each event
	// loop opens, on first use, for the loop transport. Default 1.
	LoopConns int
	// Timeout bounds one request from Serve to its reply. A connection whose
	// oldest request is older than Timeout is closed and all its requests
	// fail. Default 500ms.
	Timeout time.Duration
	// DialTimeout bounds one connection attempt. Default 500ms.
	DialTimeout time.Duration
	// MaxPending bounds the requests queued or in flight on one connection
	// (on the loop transport: on one loop's connection; health probes
	// not counted); past it Serve answers SERVER_ERROR at once. Default
	// 1024.
	MaxPending int
	// MaxPendingSize bounds the bytes of requests waiting to be written on
	// one connection; past it Serve answers SERVER_ERROR at once. A single
	// larger request is still taken when nothing else waits. Default 4MiB.
	MaxPendingSize int
	// HealthInterval is how long a connection may stay idle before it is
	// pinged with "version". Default 1s.
	HealthInterval time.Duration
	// AllowFlush lets flush_all through to the servers; when false it is
	// refused with a SERVER_ERROR line.
	AllowFlush bool
	// Distribution places keys on Servers (and on Failover). Default
	// DistRing.
	Distribution Distribution
	// HashSkipPrefix, when set, is left out of the hash of a key that starts
	// with it (and is longer than it): the Distribution places "app:k" where
	// it places "k". Other keys are hashed whole. It matches PHP's memcached
	// extension with Memcached::OPT_PREFIX_KEY set to this prefix and
	// Memcached::OPT_HASH_WITH_PREFIX_KEY off (the default): libmemcached
	// sends the prefix (its namespace, MEMCACHED_CALLBACK_PREFIX_KEY) before
	// every key but hashes the key alone unless
	// MEMCACHED_BEHAVIOR_HASH_WITH_PREFIX_KEY is set. A key equal to the
	// prefix is hashed whole: libmemcached refuses an empty key, so no such
	// client sent it. The same rule places keys on Failover. Empty (the
	// default): every key is hashed whole.
	HashSkipPrefix string
	// Failover servers take the keys of a server that is down, each key
	// going to the failover server the same Distribution picks for it among
	// Failover; keys of servers that are up never move. Empty (the
	// default): a down server's keys fail fast with SERVER_ERROR. flush_all
	// reaches failover servers too.
	Failover []Server
	// Dial, when set, opens a connection to a server (a handshake
	// included: peer links); ctx carries DialTimeout. Default: TCP.
	Dial func(ctx context.Context, addr string) (net.Conn, error)
	// Breaker, when set, gives each server (failover servers too) a circuit
	// breaker with these rules (package breaker; zero fields take hystrix's
	// defaults). Every request sent to a server counts: any reply is a
	// success, a timeout, a refused or broken connection or a full queue a
	// failure. While a server's breaker is open its requests are not sent:
	// its keys go to the Failover server if there are any, else are
	// answered at once with "SERVER_ERROR upstream ADDR breaker open"
	// (misses in a multi-get). After SleepWindow one request is let through
	// as the probe; its reply closes the breaker. nil (the default): no
	// breakers.
	Breaker *breaker.Config

	// clock is the breakers' clock; nil: breaker.SystemClock. Tests set it.
	clock breaker.Clock
	// backoff, when set, is every wait between failed connection attempts
	// (the pipeline's MinBackoff and MaxBackoff). Tests set it.
	backoff time.Duration
}

// withDefaults returns c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	pc := c.pipelineConfig().WithDefaults()
	c.ConnsPerServer, c.LoopConns, c.MaxPending, c.MaxPendingSize = pc.ConnsPerServer, pc.LoopConns, pc.MaxPending, pc.MaxPendingSize
	c.Timeout, c.DialTimeout, c.HealthInterval = pc.Timeout, pc.DialTimeout, pc.HealthInterval
	if c.Distribution == "" {
		c.Distribution = DistRing
	}
	if c.Transport == "" {
		c.Transport = TransportLoop
	}
	return c
}

// pipelineConfig is the configuration of c's connections (without servers and
// probe).
func (c Config) pipelineConfig() pipeline.Config {
	return pipeline.Config{
		ConnsPerServer: c.ConnsPerServer,
		Loops:          c.Transport == TransportLoop,
		LoopConns:      c.LoopConns,
		Timeout:        c.Timeout,
		DialTimeout:    c.DialTimeout,
		MaxPending:     c.MaxPending,
		MaxPendingSize: c.MaxPendingSize,
		HealthInterval: c.HealthInterval,
		MinBackoff:     c.backoff,
		MaxBackoff:     c.backoff,
		Dial:           c.Dial,
	}
}

// Validate reports the first invalid field of c (after defaults), naming its
// path.
func (c Config) Validate() error {
	c = c.withDefaults()
	if len(c.Servers) == 0 {
		return errors.New("memcache: servers: list at least one host:port")
	}
	if err := c.Distribution.Check(); err != nil {
		return fmt.Errorf("memcache: distribution: %w", err)
	}
	if len(c.HashSkipPrefix) > memcache.DefaultMaxKeyLen {
		return fmt.Errorf("memcache: hash_skip_prefix: %d bytes, longer than a key (%d)", len(c.HashSkipPrefix), memcache.DefaultMaxKeyLen)
	}
	seen := make(map[string]string, len(c.Servers)+len(c.Failover))
	for _, l := range []struct {
		field string
		list  []Server
	}{{"servers", c.Servers}, {"failover", c.Failover}} {
		for i, s := range l.list {
			f := fmt.Sprintf("memcache: %s[%d]", l.field, i)
			if _, _, err := net.SplitHostPort(s.Addr); err != nil {
				return fmt.Errorf("%s.addr: %q is not host:port", f, s.Addr)
			}
			if other, dup := seen[s.Addr]; dup {
				return fmt.Errorf("%s.addr: %s is also %s", f, s.Addr, other)
			}
			seen[s.Addr] = fmt.Sprintf("%s[%d]", l.field, i)
			if err := placement.CheckServer(c.Distribution, s); err != nil {
				return fmt.Errorf("%s.%w", f, err)
			}
		}
	}
	if c.Breaker != nil {
		if err := c.Breaker.Validate(); err != nil {
			return fmt.Errorf("memcache: %w", err)
		}
	}
	switch c.Transport {
	case TransportLoop, TransportGoroutine:
	default:
		return fmt.Errorf("memcache: transport: %q is not one of %s, %s", c.Transport, TransportLoop, TransportGoroutine)
	}
	switch {
	case c.ConnsPerServer < 0 || c.ConnsPerServer > 64:
		return fmt.Errorf("memcache: conns_per_server: %d is outside 1..64", c.ConnsPerServer)
	case c.LoopConns < 0 || c.LoopConns > 64:
		return fmt.Errorf("memcache: loop_conns: %d is outside 1..64", c.LoopConns)
	case c.Timeout < 0:
		return fmt.Errorf("memcache: timeout: %v is negative", c.Timeout)
	case c.DialTimeout < 0:
		return fmt.Errorf("memcache: dial_timeout: %v is negative", c.DialTimeout)
	case c.MaxPending < 0:
		return fmt.Errorf("memcache: max_pending: %d is negative", c.MaxPending)
	case c.MaxPendingSize < 0:
		return fmt.Errorf("memcache: max_pending_size: %d is negative", c.MaxPendingSize)
	case c.HealthInterval < 0:
		return fmt.Errorf("memcache: health_interval: %v is negative", c.HealthInterval)
	}
	return nil
}
