package memcache

import (
	"errors"
	"fmt"
	"net"
	"time"
)

// Defaults applied by New to zero fields of Config.
const (
	DefaultConnsPerServer = 2
	DefaultTimeout        = 500 * time.Millisecond
	DefaultDialTimeout    = 500 * time.Millisecond
	DefaultMaxPending     = 1024
	DefaultMaxPendingSize = 4 << 20
	DefaultHealthInterval = time.Second
)

// Server is one memcached server of a pool.
type Server struct {
	// Addr is the server's host:port.
	Addr string
	// Weight is the server's share of the key space relative to the others;
	// 0 means 1.
	Weight int
}

// Config configures a Pool. Zero fields take the documented defaults.
type Config struct {
	// Servers are the memcached servers; at least one.
	Servers []Server
	// ConnsPerServer is the number of pipelined connections kept open to
	// each server. Default 2.
	ConnsPerServer int
	// Timeout bounds one request from Serve to its reply. A connection whose
	// oldest request is older than Timeout is closed and all its requests
	// fail. Default 500ms.
	Timeout time.Duration
	// DialTimeout bounds one connection attempt. Default 500ms.
	DialTimeout time.Duration
	// MaxPending bounds the requests queued or in flight on one connection;
	// past it Serve answers SERVER_ERROR at once. Default 1024.
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
}

// withDefaults returns c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.ConnsPerServer == 0 {
		c.ConnsPerServer = DefaultConnsPerServer
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
	return c
}

// Validate reports the first invalid field of c (after defaults), naming its
// path.
func (c Config) Validate() error {
	c = c.withDefaults()
	if len(c.Servers) == 0 {
		return errors.New("memcache: servers: list at least one host:port")
	}
	seen := make(map[string]int, len(c.Servers))
	for i, s := range c.Servers {
		if _, _, err := net.SplitHostPort(s.Addr); err != nil {
			return fmt.Errorf("memcache: servers[%d].addr: %q is not host:port", i, s.Addr)
		}
		if j, dup := seen[s.Addr]; dup {
			return fmt.Errorf("memcache: servers[%d].addr: %s is also servers[%d]", i, s.Addr, j)
		}
		seen[s.Addr] = i
		if s.Weight < 0 || s.Weight > maxWeight {
			return fmt.Errorf("memcache: servers[%d].weight: %d is outside 0..%d", i, s.Weight, maxWeight)
		}
	}
	switch {
	case c.ConnsPerServer < 0 || c.ConnsPerServer > 64:
		return fmt.Errorf("memcache: conns_per_server: %d is outside 1..64", c.ConnsPerServer)
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
