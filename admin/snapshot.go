package admin

import (
	"context"
	"time"

	"github.com/fae-sidecar/fae/internal/hist"
)

// Source is what the admin API reads.
type Source interface {
	// Snapshot reads the sidecar's state now.
	Snapshot() *Snapshot
	// Ring says where key lives.
	Ring(key string) (*Owner, error)
	// Serving reports whether the sidecar serves clients (false before it
	// listens and once it drains).
	Serving() bool
}

// Control is what the admin API changes.
type Control interface {
	// SetMode sets a pool's mode, "normal" or "readonly". An unknown pool
	// is an [ErrNotFound]; a bad mode any other error.
	SetMode(pool, mode string) error
	// Reload reads the configuration again and applies it; on error the
	// configuration in force is unchanged.
	Reload(ctx context.Context) (*Reloaded, error)
}

// ErrNotFound wraps an error about something that does not exist (a pool),
// which the API answers with 404.
type ErrNotFound struct{ Err error }

func (e ErrNotFound) Error() string { return e.Err.Error() }
func (e ErrNotFound) Unwrap() error { return e.Err }

// Build says what faed binary runs.
type Build struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	GoVersion string `json:"go_version"`
	// Protocol is the memcached version faed answers "version" with.
	Protocol string `json:"protocol"`
}

// Snapshot is the state of the sidecar at one moment (each counter is read
// on its own: they are not one atomic snapshot).
type Snapshot struct {
	Build   Build     `json:"build"`
	Time    time.Time `json:"time"`
	Started time.Time `json:"started"`
	// UptimeSeconds is Time - Started.
	UptimeSeconds float64     `json:"uptime_seconds"`
	Config        ConfigState `json:"config"`
	// LogLevel is the level in force (it changes at run time).
	LogLevel string `json:"log_level"`
	// Server holds the front's counters by memcached's names
	// (curr_connections, total_connections, …).
	Server map[string]uint64 `json:"server"`
	Pools  []Pool            `json:"pools"`
	// Peers are the cluster's other sidecars, when this one has peers.
	Peers []Peer `json:"peers,omitempty"`
	// BeaconsDropped counts the peer beacons refused since start, by
	// reason (garbage, unsigned, bad_mac, stale, replayed, misdirected, ...),
	// when this sidecar has peers.
	BeaconsDropped map[string]uint64 `json:"beacons_dropped,omitempty"`
	// Mongo are the shards of the mongo pools, when there are any.
	Mongo []MongoShard `json:"mongo,omitempty"`
}

// Peer is one peer sidecar as the membership sees it.
type Peer struct {
	Addr string `json:"addr"`
	Up   bool   `json:"up"`
}

// MongoShard is one shard of a mongo pool: its calls since start and
// their latency in microseconds.
type MongoShard struct {
	Pool     string `json:"pool"`
	Shard    int    `json:"shard"`
	Calls    uint64 `json:"calls"`
	Errors   uint64 `json:"errors"`
	Timeouts uint64 `json:"timeouts"`
	Refused  uint64 `json:"refused"`
	Rejected uint64 `json:"rejected"`
	InFlight uint64 `json:"in_flight"`
	Open     bool   `json:"breaker_open"`
	MeanUS   uint64 `json:"mean_us"`
	P50US    uint64 `json:"p50_us"`
	P99US    uint64 `json:"p99_us"`
	MaxUS    uint64 `json:"max_us"`
}

// ConfigState says which configuration is in force and how reloads went.
type ConfigState struct {
	File           string    `json:"file,omitempty"`
	Loaded         time.Time `json:"loaded"`
	Reloads        uint64    `json:"reloads"`
	ReloadFailures uint64    `json:"reload_failures"`
	// LastError is the reason the last reload was refused, if it was.
	LastError string `json:"last_error,omitempty"`
}

// Pool is one pool's state.
type Pool struct {
	Name string `json:"name"`
	// Kind is "local" or "memcache".
	Kind string `json:"kind"`
	// Mode is "normal" or "readonly".
	Mode string `json:"mode"`
	// Routes are the key prefixes routed to the pool; the default pool
	// also takes the keys no route matches (Default).
	Routes  []string `json:"routes"`
	Default bool     `json:"default,omitempty"`
	// Stats are the pool's counters by memcached's names (cmd_get,
	// get_hits, …), its read path's (coalesced_gets, l1_*) and its
	// upstream's (errors, timeouts, reconnects, …).
	Stats   map[string]uint64 `json:"stats"`
	Servers []Upstream        `json:"servers,omitempty"`
	// Latency of the round trips to the pool's servers; nil for a local
	// pool.
	Latency *hist.Snapshot `json:"-"`
}

// Upstream is one upstream server of a pool.
type Upstream struct {
	Addr     string `json:"addr"`
	Failover bool   `json:"failover,omitempty"`
	Up       bool   `json:"up"`
	// Ready is the number of connections ready to carry requests.
	Ready    int    `json:"ready"`
	Timeouts uint64 `json:"timeouts"`
	// Spool is the server's spool (a pool with on_failure: memory), nil
	// without one.
	Spool *Spool `json:"spool,omitempty"`
	// Breaker is the server's circuit breaker; nil when its pool has none.
	Breaker *Breaker `json:"breaker,omitempty"`
}

// Spool is one server's writes kept by its pool's fallback to memory.
type Spool struct {
	// Pending writes were acknowledged and wait to reach the server.
	Pending int `json:"pending"`
	// Replayed writes reached it; DeadLettered ones were refused by it
	// too many times and moved to the dead letters (since start).
	Replayed     uint64 `json:"replayed"`
	DeadLettered uint64 `json:"dead_lettered"`
}

// Breaker is one server's circuit breaker.
type Breaker struct {
	// State is "closed", "open" (requests refused for its sleep window) or
	// "half_open" (one probe out, the others refused).
	State string `json:"state"`
	// Opens counts the times it opened (failed probes included), Rejected
	// the requests it answered at once.
	Opens    uint64 `json:"opens"`
	Rejected uint64 `json:"rejected"`
}

// BreakerStates numbers the breaker states for metrics, in the order the
// faed_upstream_server_breaker_state gauge takes them.
var BreakerStates = []string{"closed", "open", "half_open"}

// Owner is where a key lives.
type Owner struct {
	Key  string `json:"key"`
	Pool string `json:"pool"`
	// Route is the prefix that sent the key to Pool; "" for the default
	// pool.
	Route string `json:"route"`
	Kind  string `json:"kind"`
	// Server owns the key in a memcache pool; Failover takes its keys
	// while it is down.
	Server   string `json:"server,omitempty"`
	Failover string `json:"failover,omitempty"`
	// Owners own the key in a cluster pool, its primary first: the peer
	// addresses on the ring in force.
	Owners []string `json:"owners,omitempty"`
}

// Reloaded says what a reload changed.
type Reloaded struct {
	// Pools added, rebuilt (their configuration changed) or removed, and
	// kept as they were.
	Added   []string `json:"added"`
	Changed []string `json:"changed"`
	Removed []string `json:"removed"`
	Kept    []string `json:"kept"`
	Routes  int      `json:"routes"`
}
