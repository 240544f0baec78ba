package conf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Pool kinds.
const (
	KindLocal    = "local"    // the embedded store
	KindMemcache = "memcache" // a pool of memcached servers
	KindCluster  = "cluster"  // keys on the peer sidecars that own them (see Peers)
)

// Distributions of a memcache pool (Pool.Distribution).
const (
	DistRing          = "ring"                        // fae's own consistent-hash ring
	DistKetama        = "ketama"                      // libmemcached's ketama (PHP memcached, OPT_LIBKETAMA_COMPATIBLE)
	DistTwemproxy     = "twemproxy"                   // twemproxy's ketama with fnv1a_64
	DistConsistent    = "libmemcached-consistent"     // libmemcached's consistent, one_at_a_time (PHP memcached, OPT_DISTRIBUTION alone)
	DistConsistentMD5 = "libmemcached-consistent-md5" // the same with MD5 (PHP memcached, OPT_LIBKETAMA_COMPATIBLE then OPT_DISTRIBUTION)
)

// Transports of a memcache pool (Pool.Transport).
const (
	TransportLoop      = "loop"      // connections on each event loop, no goroutines per request
	TransportGoroutine = "goroutine" // shared connections with writer and reader goroutines
)

// DefaultPool is the name of the pool that serves keys no route matches.
const DefaultPool = "default"

// Config is faed's whole configuration. The zero value plus [Config.Defaults]
// is a standalone memcached-compatible cache on 127.0.0.1:11211.
type Config struct {
	// Listen is the client address (memcached text protocol). Default 127.0.0.1:11211.
	Listen string `yaml:"listen"`
	// ListenUnix is the path of an extra listener, a unix socket, for the
	// same protocols (memcached's -s); empty (the default): none. A stale
	// socket file there is replaced at start; the file is removed on a
	// clean shutdown.
	ListenUnix string `yaml:"listen_unix"`
	// ListenUnixMode is the socket file's permissions, in octal. Default
	// "0660": the owner and its group (e.g. the PHP workers') connect.
	ListenUnixMode FileMode `yaml:"listen_unix_mode"`
	// Admin is the HTTP admin address (e.g. 127.0.0.1:11219); empty (the
	// default) disables it. It must be a loopback address unless
	// AdminAllowRemote is set, and then AdminToken is required: it serves
	// pprof and changes the running sidecar.
	Admin string `yaml:"admin"`
	// AdminAllowRemote lets Admin listen on an address other hosts reach.
	AdminAllowRemote bool `yaml:"admin_allow_remote"`
	// AdminToken is the bearer token of the admin API: every POST needs
	// it, and every request when Admin is not a loopback address. At least
	// 16 characters. Empty: POSTs are refused.
	AdminToken string `yaml:"admin_token"`
	// AdminTokenFile, an absolute path, holds the token instead (its first
	// line), so the configuration can be world-readable.
	AdminTokenFile string `yaml:"admin_token_file"`
	// LogFormat is "text" (the default) or "json".
	LogFormat string `yaml:"log_format"`
	// LogLevel is "debug", "info" (the default), "warn" or "error". It can
	// change at run time: reload, the admin API, memcached's "verbosity".
	LogLevel string `yaml:"log_level"`
	// Loops is the number of event loops; 0 means one per two CPUs (at least one).
	Loops int `yaml:"loops"`
	// MaxConns caps client connections; more are refused with memcached's
	// "ERROR Too many open connections". Default 4096.
	MaxConns int `yaml:"max_conns"`
	// MaxKeyLen is the longest key accepted. Default and maximum 250 (memcached's).
	MaxKeyLen int `yaml:"max_key_len"`
	// MaxItemSize is the largest item, as memcached's -I. Default 1MiB.
	MaxItemSize ByteSize `yaml:"max_item_size"`
	// MaxInflight caps the requests of one connection waiting for an
	// upstream; past it faed stops reading that connection's requests
	// until replies go out. Default 1024.
	MaxInflight int `yaml:"max_inflight"`
	// MaxInbound caps the unparsed bytes held for one connection while it is
	// held back; a client that sends more is closed. Default 8MiB.
	MaxInbound ByteSize `yaml:"max_inbound"`
	// MaxOutbound is the amount of unsent replies to one connection past
	// which faed stops reading its requests until it drains. Default 4MiB.
	MaxOutbound ByteSize `yaml:"max_outbound"`
	// MaxPartial bounds the memory of all requests of 16KiB or more still
	// coming in, together: each is held in a buffer of its size until it
	// is whole, and past this one is refused with memcached's "SERVER_ERROR
	// out of memory storing object" (binary: "Out of memory"), its bytes
	// discarded. Default 256MiB.
	MaxPartial ByteSize `yaml:"max_partial"`
	// IdleTimeout closes a connection that sent nothing for this long; 0
	// (the default, as memcached) never does.
	IdleTimeout Duration `yaml:"idle_timeout"`
	// ShutdownTimeout bounds how long SIGTERM waits for in-flight requests. Default 10s.
	ShutdownTimeout Duration `yaml:"shutdown_timeout"`
	// Pools by name; "default" serves keys no route matches.
	Pools map[string]*Pool `yaml:"pools"`
	// Routes send keys to pools by longest matching prefix.
	Routes []Route `yaml:"routes"`
	// DataDir is where faed keeps files: the dlog servant's logs
	// (data_dir/dlog) and the kvdb servant's store (data_dir/kvdb.db). An
	// absolute path; empty (the default): dlog and kvdb refuse every call,
	// saying data_dir is not set.
	DataDir string `yaml:"data_dir"`
	// MaxThriftFrame is the largest Thrift frame faed reads. Default 16MiB.
	MaxThriftFrame ByteSize `yaml:"max_thrift_frame"`
	// IDGen, LCache and DLog configure those servants.
	IDGen  IDGen  `yaml:"idgen"`
	LCache LCache `yaml:"lcache"`
	DLog   DLog   `yaml:"dlog"`
	// Peers makes this sidecar a member of a cluster of sidecars (see
	// Peers); nil (the default): it is alone.
	Peers *Peers `yaml:"peers"`
}

// Pool configures one pool.
type Pool struct {
	// Kind is "local", "memcache", "cluster" or "mongo".
	Kind string `yaml:"kind"`
	// MaxBytes bounds the memory of a local pool, or of this sidecar's
	// share of a cluster pool. Default 64MiB (memcached's -m).
	MaxBytes ByteSize `yaml:"max_bytes"`
	// Servers of a memcache pool: "host:port" or "host:port weight".
	Servers []string `yaml:"servers"`
	// ConnsPerServer is the number of long-lived connections to each server. Default 2.
	ConnsPerServer int `yaml:"conns_per_server"`
	// Transport is how a memcache pool's requests reach its servers:
	// "loop" (default: each event loop has its own connection to each
	// server and runs the whole round trip itself) or "goroutine" (shared
	// connections, conns_per_server of them, each with a writer and a
	// reader goroutine).
	Transport string `yaml:"transport"`
	// Timeout bounds each upstream request (of a cluster pool: each peer
	// call). Default 500ms (mongo pools: 1s).
	Timeout Duration `yaml:"timeout"`
	// AllowFlush lets flush_all reach this pool's servers. Default true.
	AllowFlush *bool `yaml:"allow_flush"`
	// Coalesce merges concurrent gets of one key into one upstream get.
	// Default true for memcache pools.
	Coalesce *bool `yaml:"coalesce"`
	// Distribution places keys on a memcache pool's servers, to match the
	// clients or proxy that wrote them: "ring" (default: fae's own ring),
	// "ketama" (libmemcached's, as PHP's memcached extension with
	// OPT_LIBKETAMA_COMPATIBLE), "twemproxy" (twemproxy's "distribution:
	// ketama" with "hash: fnv1a_64"), "libmemcached-consistent" (PHP's
	// memcached extension with OPT_DISTRIBUTION = DISTRIBUTION_CONSISTENT
	// alone) or "libmemcached-consistent-md5" (the same after
	// OPT_LIBKETAMA_COMPATIBLE, or with OPT_HASH = HASH_MD5). Servers must
	// be listed with the clients' hosts, ports and weights.
	Distribution string `yaml:"distribution"`
	// HashSkipPrefix, when set, is left out of the hash of a key that starts
	// with it (and is longer than it), whatever the distribution: "app:k"
	// goes where "k" would. It matches PHP's memcached extension with
	// Memcached::OPT_PREFIX_KEY set to this prefix and without
	// Memcached::OPT_HASH_WITH_PREFIX_KEY (libmemcached sends the prefix but
	// hashes the key without it). Other keys are hashed whole. At most
	// max_key_len bytes. Empty (the default): every key is hashed whole.
	HashSkipPrefix string `yaml:"hash_skip_prefix"`
	// Failover servers ("host:port [weight]") take the keys of a memcache
	// pool's server while it is down, each key going to the failover server
	// the pool's distribution picks among them; keys of servers that are up
	// never move. Empty (the default): a down server's keys fail fast with
	// SERVER_ERROR.
	Failover []string `yaml:"failover"`
	// Replicas is the number of peers a key of a cluster pool lives on
	// (its owners on the ring). Default 2: one peer may die without a key
	// being lost.
	Replicas int `yaml:"replicas"`
	// L1 caches single-key get replies of a memcache pool in faed's
	// memory; off unless set. Entries live at most TTL, so a value written
	// by another client may be seen up to TTL late; writes through this
	// faed drop the key at once.
	L1 *L1 `yaml:"l1"`
	// OnFailure is what a memcache pool does with a write its server did
	// not take (refused, timed out, breaker open): "fail" (the default:
	// SERVER_ERROR) or "memory" (keep it in faed's memory and in a spool
	// under data_dir, answer as memcached would have, replay it once the
	// server answers; see docs/ARCHITECTURE.md). With memory, max_bytes
	// bounds the memory holding such writes (default 64MiB).
	OnFailure string `yaml:"on_failure"`
	// Breaker gives each server of a memcache pool a circuit breaker; off
	// unless set (see Breaker).
	Breaker *Breaker `yaml:"breaker"`
	// Mongo holds a mongo pool's fields (see Mongo).
	Mongo `yaml:",inline"`
}

// L1 sizes a pool's local read cache.
type L1 struct {
	MaxBytes ByteSize `yaml:"max_bytes"`
	TTL      Duration `yaml:"ttl"`
}

// Route sends keys starting with Prefix to Pool.
type Route struct {
	Prefix string `yaml:"prefix"`
	Pool   string `yaml:"pool"`
}

// Server is one parsed entry of Pool.Servers.
type Server struct {
	Addr   string
	Weight int
}

// Defaults fills unset fields with their documented defaults.
func (c *Config) Defaults() {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:11211"
	}
	if c.MaxConns == 0 {
		c.MaxConns = 4096
	}
	if c.MaxKeyLen == 0 {
		c.MaxKeyLen = 250
	}
	if c.MaxItemSize == 0 {
		c.MaxItemSize = 1 << 20
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
		c.ShutdownTimeout = Duration(10 * time.Second)
	}
	c.servantDefaults()
	c.Peers.defaults()
	c.opsDefaults()
	if c.Pools == nil {
		c.Pools = map[string]*Pool{}
	}
	if c.Pools[DefaultPool] == nil {
		c.Pools[DefaultPool] = &Pool{Kind: KindLocal}
	}
	for _, p := range c.Pools {
		if p == nil {
			continue
		}
		if p.Kind == "" {
			p.Kind = KindLocal
			if len(p.Servers) > 0 {
				p.Kind = KindMemcache
			}
		}
		if p.Kind == KindCluster {
			if p.MaxBytes == 0 {
				p.MaxBytes = 64 << 20
			}
			if p.Timeout == 0 {
				p.Timeout = Duration(500 * time.Millisecond)
			}
			if p.Replicas == 0 {
				p.Replicas = 2
			}
		}
		if p.Kind == KindMongo {
			p.mongoDefaults()
		}
		p.fallbackDefaults()
		p.breakerDefaults()
		if p.Kind == KindLocal && p.MaxBytes == 0 {
			p.MaxBytes = 64 << 20
		}
		if p.Kind == KindMemcache {
			if p.ConnsPerServer == 0 {
				p.ConnsPerServer = 2
			}
			if p.Timeout == 0 {
				p.Timeout = Duration(500 * time.Millisecond)
			}
			if p.AllowFlush == nil {
				t := true
				p.AllowFlush = &t
			}
			if p.Coalesce == nil {
				t := true
				p.Coalesce = &t
			}
			if p.Distribution == "" {
				p.Distribution = DistRing
			}
			if p.Transport == "" {
				p.Transport = TransportLoop
			}
		}
	}
}

// IsLoopback reports whether host:port names a loopback address
// (127.0.0.0/8, ::1 or localhost). Other names are not resolved: they
// count as reachable from other hosts, and so do an empty host and
// unspecified addresses (0.0.0.0, ::), which listen on every interface.
func IsLoopback(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Warnings lists what a valid configuration allows that an operator
// should know of: flush_all open to other hosts.
func (c *Config) Warnings() []string {
	if IsLoopback(c.Listen) {
		return nil
	}
	var flush []string
	for name, p := range c.Pools {
		if p != nil && (p.Kind == KindLocal || p.Kind == KindMemcache && p.AllowFlush != nil && *p.AllowFlush) {
			flush = append(flush, name)
		}
	}
	if len(flush) == 0 {
		return nil
	}
	sort.Strings(flush)
	return []string{fmt.Sprintf("listen %s is not a loopback address and flush_all empties pools %s for any "+
		"host that reaches it: set allow_flush: false on memcache pools, or listen on 127.0.0.1",
		c.Listen, strings.Join(flush, ", "))}
}

// Validate checks c after Defaults; its error names the field path.
func (c *Config) Validate() error {
	var errs []error
	bad := func(field, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, a...)))
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		bad("listen", "%q is not host:port (e.g. 127.0.0.1:11211)", c.Listen)
	}
	c.validateOps(bad)
	if c.Loops < 0 {
		bad("loops", "must be 0 (one per two CPUs) or more")
	}
	if c.MaxConns < 1 {
		bad("max_conns", "must be at least 1")
	}
	if c.MaxKeyLen < 1 || c.MaxKeyLen > 250 {
		bad("max_key_len", "must be between 1 and 250 (memcached's limit)")
	}
	if c.MaxItemSize < 1024 || c.MaxItemSize > 1<<30 {
		bad("max_item_size", "must be between 1KiB and 1GiB")
	}
	if c.MaxInflight < 1 {
		bad("max_inflight", "must be at least 1")
	}
	if c.MaxInbound < c.MaxItemSize+4096 {
		bad("max_inbound", "must exceed max_item_size by at least 4KiB so one whole request fits")
	}
	if c.MaxOutbound < 1024 {
		bad("max_outbound", "must be at least 1KiB")
	}
	if c.MaxPartial < c.MaxItemSize+4096 {
		bad("max_partial", "must exceed max_item_size by at least 4KiB so one whole request fits")
	}
	if c.IdleTimeout < 0 {
		bad("idle_timeout", "must not be negative")
	}
	c.validateServants(bad)
	names := make([]string, 0, len(c.Pools))
	for name := range c.Pools {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		p := c.Pools[name]
		f := "pools." + name
		if p == nil {
			bad(f, "is empty: give it a kind (local or memcache)")
			continue
		}
		if p.Replicas != 0 && p.Kind != KindCluster {
			bad(f+".replicas", "only a cluster pool has replicas")
		}
		validateMongo(f, p, bad)
		c.validateFallback(f, p, bad)
		validateBreaker(f, p, bad)
		switch p.Kind {
		case KindLocal:
			if len(p.Servers) > 0 {
				bad(f+".servers", "a local pool has no servers: set kind: memcache")
			}
			if p.MaxBytes < 1<<20 {
				bad(f+".max_bytes", "must be at least 1MiB")
			}
			if p.L1 != nil {
				bad(f+".l1", "a local pool is already in memory: remove l1")
			}
			if p.Distribution != "" || len(p.Failover) > 0 || p.HashSkipPrefix != "" {
				bad(f, "distribution, hash_skip_prefix and failover place keys on servers: a local pool has none (set kind: memcache)")
			}
		case KindMemcache:
			if len(p.Servers) == 0 {
				bad(f+".servers", "a memcache pool needs at least one server host:port")
			}
			addrs := map[string]string{}
			for _, l := range []struct {
				field string
				list  []string
			}{{"servers", p.Servers}, {"failover", p.Failover}} {
				for i, s := range l.list {
					field := fmt.Sprintf("%s.%s[%d]", f, l.field, i)
					srv, err := ParseServer(s)
					if err != nil {
						bad(field, "%v", err)
						continue
					}
					// (Duplicate servers are the memcache pool's to refuse.)
					if other, dup := addrs[srv.Addr]; dup && l.field == "failover" {
						bad(field, "%s is also %s", srv.Addr, other)
					}
					addrs[srv.Addr] = fmt.Sprintf("%s[%d]", l.field, i)
				}
			}
			switch p.Distribution {
			case "", DistRing, DistKetama, DistTwemproxy, DistConsistent, DistConsistentMD5: // "": Defaults not run; the pool's default
			default:
				bad(f+".distribution", "%q is not a distribution: use %s, %s, %s, %s or %s", p.Distribution,
					DistRing, DistKetama, DistTwemproxy, DistConsistent, DistConsistentMD5)
			}
			if len(p.HashSkipPrefix) > c.MaxKeyLen {
				bad(f+".hash_skip_prefix", "%d bytes, longer than max_key_len (%d): no key could start with it", len(p.HashSkipPrefix), c.MaxKeyLen)
			}
			switch p.Transport {
			case "", TransportLoop, TransportGoroutine:
			default:
				bad(f+".transport", "%q is not a transport: use %s or %s", p.Transport, TransportLoop, TransportGoroutine)
			}
			if p.ConnsPerServer < 1 || p.ConnsPerServer > 64 {
				bad(f+".conns_per_server", "must be between 1 and 64")
			}
			if p.Timeout <= 0 {
				bad(f+".timeout", "must be positive")
			}
			if p.L1 != nil {
				if p.L1.MaxBytes < 64<<10 {
					bad(f+".l1.max_bytes", "must be at least 64KiB")
				}
				if p.L1.TTL <= 0 {
					bad(f+".l1.ttl", "must be positive, e.g. 2s: it bounds how stale a read may be")
				}
			}
		case KindCluster:
			if c.Peers == nil {
				bad(f+".kind", "a cluster pool lives on the peer sidecars: configure peers: (listen, secret)")
			}
			if len(p.Servers) > 0 || len(p.Failover) > 0 || p.Distribution != "" || p.HashSkipPrefix != "" || p.L1 != nil {
				bad(f, "servers, failover, distribution, hash_skip_prefix and l1 belong to memcache pools: "+
					"a cluster pool's keys go to the peers that own them on the ring")
			}
			if p.Replicas < 1 {
				bad(f+".replicas", "must be at least 1 (the number of peers holding each key)")
			}
			if p.MaxBytes < 1<<20 {
				bad(f+".max_bytes", "must be at least 1MiB")
			}
			if p.Timeout <= 0 {
				bad(f+".timeout", "must be positive")
			}
		case KindMongo: // validateMongo
		default:
			bad(f+".kind", "%q is not a pool kind: use local, memcache, cluster or mongo", p.Kind)
		}
	}
	c.Peers.validate(c.Listen, bad)
	seen := map[string]bool{}
	for i, r := range c.Routes {
		f := fmt.Sprintf("routes[%d]", i)
		if r.Prefix == "" {
			bad(f+".prefix", "must not be empty (the default pool takes unmatched keys)")
		}
		if seen[r.Prefix] {
			bad(f+".prefix", "%q is routed twice", r.Prefix)
		}
		seen[r.Prefix] = true
		if c.Pools[r.Pool] == nil {
			bad(f+".pool", "%q is not a configured pool", r.Pool)
		} else if c.Pools[r.Pool].Kind == KindMongo {
			bad(f+".pool", "%q is a mongo pool, which the mg_* calls name: keys cannot be routed to it", r.Pool)
		}
	}
	return errors.Join(errs...)
}

// ParseServer parses "host:port" or "host:port weight" (weight >= 1).
func ParseServer(s string) (Server, error) {
	f := strings.Fields(s)
	if len(f) == 0 || len(f) > 2 {
		return Server{}, fmt.Errorf("%q: write host:port, optionally followed by a weight", s)
	}
	if _, _, err := net.SplitHostPort(f[0]); err != nil {
		return Server{}, fmt.Errorf("%q is not host:port", f[0])
	}
	srv := Server{Addr: f[0], Weight: 1}
	if len(f) == 2 {
		w, err := strconv.Atoi(f[1])
		if err != nil || w < 1 {
			return Server{}, fmt.Errorf("weight %q must be a whole number >= 1", f[1])
		}
		srv.Weight = w
	}
	return srv, nil
}

// Parse decodes YAML, rejecting unknown fields, applies defaults, reads
// admin_token_file and validates. Its error is an [*Error].
func Parse(data []byte) (*Config, error) {
	c, err := parse(data)
	if err != nil {
		return nil, err
	}
	return c, nil
}

func parse(data []byte) (*Config, *Error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	// An empty document decodes to io.EOF: it means "all defaults".
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return nil, &Error{Problems: []error{err}}
	}
	c.Defaults()
	var errs []error
	if err := c.readTokenFile(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Validate(); err != nil {
		errs = append(errs, Problems(err)...)
	}
	if len(errs) > 0 {
		return nil, &Error{Problems: errs}
	}
	return &c, nil
}

// Load reads and parses the file at path. Its error is an [*Error] naming
// the file.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{File: path, Problems: []error{err}}
	}
	c, perr := parse(data)
	if perr != nil {
		perr.File = path
		return nil, perr
	}
	return c, nil
}

// Error is a configuration refused: the file (empty for [Parse]) and each
// problem, "field.path: what is wrong" (or the YAML decoder's error, which
// names the line).
type Error struct {
	File     string
	Problems []error
}

func (e *Error) Error() string {
	head := "config"
	if e.File != "" {
		head += " " + e.File
	}
	if len(e.Problems) == 1 {
		return head + ": " + e.Problems[0].Error()
	}
	var b strings.Builder
	b.WriteString(head)
	b.WriteString(":")
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() []error { return e.Problems }

// Problems splits an error of Validate (an errors.Join) into its problems.
func Problems(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
