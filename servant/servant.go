package servant

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fae-sidecar/fae/proto/memcache"
	"github.com/fae-sidecar/fae/proto/thrift"
	"github.com/fae-sidecar/fae/proto/thrift/fae"
	"github.com/fae-sidecar/fae/servant/dlog"
	"github.com/fae-sidecar/fae/servant/idgen"
	"github.com/fae-sidecar/fae/servant/kvdb"
	"github.com/fae-sidecar/fae/servant/lcache"
	"github.com/fae-sidecar/fae/servant/lock"
	"github.com/fae-sidecar/fae/upstream"
	"github.com/fae-sidecar/fae/upstream/mongo"
)

// FunServant answers the Thrift front's calls (fae.FunServant) with the
// servants and, for mc_*, the router. Safe for concurrent use.
type FunServant struct {
	version string
	ids     *idgen.Generator
	lc      *lcache.Cache
	locks   *lock.Table
	logs    *dlog.Log
	kv      *kvdb.DB // nil without a data directory
	cache   Cache
	mongo   map[string]*mongo.Pool
	parser  memcache.Parser
	// noWait is a context already done: a call given it does not wait.
	noWait context.Context
	// clusterLocks: see Parts.ClusterLocks.
	clusterLocks func(key []byte) upstream.Pool
}

// Parts are the servants a FunServant answers with; Version is what ping
// answers. KV may be nil (no data directory): kvdb_* calls then fail.
type Parts struct {
	Version string
	IDs     *idgen.Generator
	LCache  *lcache.Cache
	Locks   *lock.Table
	Logs    *dlog.Log
	KV      *kvdb.DB
	Cache   Cache
	// Mongo are the mongo pools of the mg_* calls, by name.
	Mongo map[string]*mongo.Pool
	// MaxKeyLen and MaxItemSize bound mc_* keys and values, as the text
	// port's.
	MaxKeyLen, MaxItemSize int
	// ClusterLocks, when set, returns the pool that holds key's lease (a
	// cluster pool: at the key's primary owner), or nil when Locks does.
	ClusterLocks func(key []byte) upstream.Pool
}

// New returns a FunServant over p.
func New(p Parts) *FunServant {
	noWait, cancel := context.WithCancel(context.Background())
	cancel()
	return &FunServant{noWait: noWait,
		version: p.Version, ids: p.IDs, lc: p.LCache, locks: p.Locks, logs: p.Logs, kv: p.KV, cache: p.Cache, mongo: p.Mongo,
		parser: memcache.Parser{MaxKeyLen: p.MaxKeyLen, MaxItemSize: p.MaxItemSize}, clusterLocks: p.ClusterLocks,
	}
}

var _ fae.FunServant = (*FunServant)(nil)

// Blocks reports whether a call of m may wait on the network, the disk or
// the clock: mc_* and mg_* wait for a pool, kvdb_* for fsync, dlog for its
// buffer's lock, id_* for a clock that stepped back. Those run on the
// server's workers; the rest answer from memory on the event loop.
func (f *FunServant) Blocks(m thrift.Method) bool {
	switch m {
	case thrift.MethodPing, thrift.MethodNoop, thrift.MethodIDDecode,
		thrift.MethodLcSet, thrift.MethodLcGet, thrift.MethodLcDel, thrift.MethodUnknown:
		return false
	case thrift.MethodLock, thrift.MethodUnlock:
		return f.clusterLocks != nil // a cluster key's lease may be at another sidecar
	}
	return true
}

func (f *FunServant) Ping(context.Context, *fae.Context) (string, error) { return f.version, nil }

func (f *FunServant) Noop(_ context.Context, x int32) (int32, error) { return x, nil }

func (f *FunServant) IDNext(ctx context.Context, _ *fae.Context) (int64, error) {
	id, err := f.ids.Next(ctx)
	return id, asServantError(err)
}

func (f *FunServant) IDNextWithTag(ctx context.Context, _ *fae.Context, tag int16) (int64, error) {
	id, err := f.ids.NextWithTag(ctx, tag)
	return id, asServantError(err)
}

// IDDecode returns [unix ms, tag, worker, sequence].
func (f *FunServant) IDDecode(_ context.Context, _ *fae.Context, id int64) ([]int64, error) {
	ms, tag, worker, seq := idgen.Decode(id)
	return []int64{ms, tag, worker, seq}, nil
}

// LcSet reports false when the entry is larger than the cache allows.
func (f *FunServant) LcSet(_ context.Context, _ *fae.Context, key string, value []byte) (bool, error) {
	return f.lc.Set(key, value) == nil, nil
}

func (f *FunServant) LcGet(_ context.Context, _ *fae.Context, key string) ([]byte, error) {
	v, ok := f.lc.Get(key)
	if !ok {
		return nil, &fae.TCacheMissed{Message: &key}
	}
	return v, nil
}

func (f *FunServant) LcDel(_ context.Context, _ *fae.Context, key string) error {
	f.lc.Del(key)
	return nil
}

// Lock returns the lease's token, or "" while another holds key. The
// lease of a cluster pool's key is the cluster's (at the key's primary
// owner), as the text verb's.
func (f *FunServant) Lock(ctx context.Context, _ *fae.Context, key string, ttlMs int32) (string, error) {
	if p := f.clusterPool(key); p != nil {
		reply, err := f.serveText(ctx, p, fmt.Appendf(nil, "lock %s %d\r\n", key, max(ttlMs, 0)))
		if err != nil {
			return "", err
		}
		if token, ok := bytes.CutPrefix(bytes.TrimSuffix(reply, []byte("\r\n")), []byte("LOCKED ")); ok {
			return string(token), nil
		}
		if string(reply) == "BUSY\r\n" {
			return "", nil
		}
		return "", replyError(reply)
	}
	token, _, err := f.locks.Lock(key, time.Duration(ttlMs)*time.Millisecond)
	return token, asServantError(err)
}

func (f *FunServant) Unlock(ctx context.Context, _ *fae.Context, key, token string) (bool, error) {
	if p := f.clusterPool(key); p != nil {
		reply, err := f.serveText(ctx, p, fmt.Appendf(nil, "unlock %s %s\r\n", key, token))
		if err != nil {
			return false, err
		}
		switch string(reply) {
		case "UNLOCKED\r\n":
			return true, nil
		case memcache.ReplyNotFound:
			return false, nil
		}
		return false, replyError(reply)
	}
	return f.locks.Unlock(key, token), nil
}

// clusterPool returns the cluster pool holding key's lease, or nil.
func (f *FunServant) clusterPool(key string) upstream.Pool {
	if f.clusterLocks == nil || !validKey(key) {
		return nil
	}
	return f.clusterLocks([]byte(key))
}

func (f *FunServant) Dlog(ctx context.Context, _ *fae.Context, ident, tag, json string) error {
	return asServantError(f.logs.Write(ctx, ident, tag, json))
}

func (f *FunServant) KvdbSet(ctx context.Context, _ *fae.Context, key, value []byte) (bool, error) {
	if f.kv == nil {
		return false, errNoKV
	}
	if err := f.kv.Set(ctx, string(key), value); err != nil {
		return false, asServantError(err)
	}
	return true, nil
}

func (f *FunServant) KvdbGet(ctx context.Context, _ *fae.Context, key []byte) ([]byte, error) {
	if f.kv == nil {
		return nil, errNoKV
	}
	v, ok, err := f.kv.Get(ctx, string(key))
	if err != nil {
		return nil, asServantError(err)
	}
	if !ok {
		return nil, &fae.TCacheMissed{}
	}
	return v, nil
}

func (f *FunServant) KvdbDel(ctx context.Context, _ *fae.Context, key []byte) (bool, error) {
	if f.kv == nil {
		return false, errNoKV
	}
	ok, err := f.kv.Del(ctx, string(key))
	return ok, asServantError(err)
}

var errNoKV = &fae.TServantError{Message: "kvdb: data_dir is not set in faed's config"}

// asServantError turns a servant's error into the IDL's exception.
func asServantError(err error) error {
	if err == nil {
		return nil
	}
	var se *fae.TServantError
	if errors.As(err, &se) {
		return se
	}
	return &fae.TServantError{Message: fmt.Sprint(err)}
}

// TextLock implements the text verb lock (server.TextServants).
func (f *FunServant) TextLock(key []byte, ttl time.Duration) (string, bool, error) {
	return f.locks.Lock(string(key), ttl)
}

// TextUnlock implements the text verb unlock.
func (f *FunServant) TextUnlock(key, token []byte) bool {
	return f.locks.Unlock(string(key), string(token))
}

// TextID implements the text verb id. It runs on an event loop, so it
// never waits for a clock that stepped back past what the generator may
// run ahead: it fails at once instead (SERVER_ERROR), where id_next waits.
func (f *FunServant) TextID(tag int) (int64, error) {
	return f.ids.NextWithTag(f.noWait, int16(tag))
}
