package conf

import (
	"fmt"
	"strings"
	"time"
)

// KindMongo is a pool of MongoDB shards, reached by the Thrift mg_* calls
// (not by keys: routes cannot name it).
const KindMongo = "mongo"

// Mongo holds the fields of a mongo pool; the pool's timeout bounds each
// call (default 1s).
type Mongo struct {
	// Shards are the shards' connection strings by shard id, 0 to N-1:
	// {0: "mongodb://10.0.0.7:27017", 1: "mongodb://10.0.0.8:27017/?replicaSet=rs1"}.
	// A call's shardId picks shard shardId modulo N.
	Shards map[int]string `yaml:"shards"`
	// Database is the database the calls' tables (collections) are in.
	Database string `yaml:"database"`
	// MaxConns bounds each shard's connections and its calls in flight; a
	// call past it fails at once. Default 32.
	MaxConns int `yaml:"max_conns"`
}

// ShardURIs returns the shards' connection strings by shard id.
func (m *Mongo) ShardURIs() []string {
	uris := make([]string, len(m.Shards))
	for i := range uris {
		uris[i] = m.Shards[i]
	}
	return uris
}

// mongoDefaults fills a mongo pool's unset fields.
func (p *Pool) mongoDefaults() {
	if p.Timeout == 0 {
		p.Timeout = Duration(time.Second)
	}
	if p.MaxConns == 0 {
		p.MaxConns = 32
	}
}

// validateMongo checks the pool p named by field path f: a mongo pool's
// fields, or that another kind has none of them.
func validateMongo(f string, p *Pool, bad func(field, format string, a ...any)) {
	if p.Kind != KindMongo {
		if len(p.Shards) > 0 || p.Database != "" || p.MaxConns != 0 {
			bad(f, "shards, database and max_conns belong to mongo pools: set kind: mongo")
		}
		return
	}
	if len(p.Servers) > 0 || len(p.Failover) > 0 || p.Distribution != "" || p.HashSkipPrefix != "" ||
		p.L1 != nil || p.MaxBytes != 0 || p.ConnsPerServer != 0 || p.Transport != "" || p.AllowFlush != nil || p.Coalesce != nil {
		bad(f, "a mongo pool has shards, database, timeout and max_conns only; the other fields belong to local and memcache pools")
	}
	if f == "pools."+DefaultPool {
		bad(f+".kind", "the default pool serves the keys no route matches: it cannot be a mongo pool; name the mongo pool otherwise")
	}
	if len(p.Shards) == 0 {
		bad(f+".shards", "a mongo pool needs at least one shard: shards: {0: \"mongodb://HOST:27017\"}")
	}
	for i := range len(p.Shards) {
		uri, ok := p.Shards[i]
		field := fmt.Sprintf("%s.shards.%d", f, i)
		switch {
		case !ok:
			bad(field, "missing: shard ids run from 0 to %d without a gap (a call's shardId picks shardId modulo their number)", len(p.Shards)-1)
		case !strings.HasPrefix(uri, "mongodb://") && !strings.HasPrefix(uri, "mongodb+srv://"):
			bad(field, "%q is not a connection string: write mongodb://HOST:PORT[/?OPTIONS] or mongodb+srv://HOST", uri)
		case strings.TrimPrefix(strings.TrimPrefix(uri, "mongodb+srv://"), "mongodb://") == "":
			bad(field, "%q names no host", uri)
		}
	}
	if p.Database == "" {
		bad(f+".database", "a mongo pool needs the database its tables are in")
	} else if strings.ContainsAny(p.Database, "/\\. \"$\x00") || len(p.Database) > 63 {
		bad(f+".database", "%q is not a MongoDB database name: at most 63 bytes, none of / \\ . space \" $", p.Database)
	}
	if p.Timeout <= 0 {
		bad(f+".timeout", "must be positive, e.g. 1s: it bounds each call")
	}
	if p.MaxConns < 1 || p.MaxConns > 4096 {
		bad(f+".max_conns", "must be between 1 and 4096")
	}
}
