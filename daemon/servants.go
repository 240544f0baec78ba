package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/fae-sidecar/fae/conf"
	"github.com/fae-sidecar/fae/servant"
	"github.com/fae-sidecar/fae/servant/dlog"
	"github.com/fae-sidecar/fae/servant/idgen"
	"github.com/fae-sidecar/fae/servant/kvdb"
	"github.com/fae-sidecar/fae/servant/lcache"
	"github.com/fae-sidecar/fae/servant/lock"
	"github.com/fae-sidecar/fae/upstream"
	"github.com/fae-sidecar/fae/upstream/mongo"
)

// maxLeases bounds the lock servant's table.
const maxLeases = 65536

// servants are the running servants and what closes them.
type servants struct {
	fun   *servant.FunServant
	logs  *dlog.Log
	kv    *kvdb.DB
	mongo map[string]*mongo.Pool
}

// buildServants starts the servants of cfg; mc_* calls go through cache
// (the router in force).
func buildServants(cfg *conf.Config, cache servant.Cache, version string, log *slog.Logger, clusterLocks func([]byte) upstream.Pool) (*servants, error) {
	ids, err := idgen.New(cfg.IDGen.WorkerID, nil, idWait)
	if err != nil {
		return nil, fmt.Errorf("idgen: %w", err)
	}
	logs, err := dlog.Open(dlog.Config{
		DataDir:      cfg.DataDir,
		MaxFileSize:  int64(cfg.DLog.MaxFileSize),
		MaxFiles:     cfg.DLog.MaxFiles,
		MaxBuffered:  int64(cfg.DLog.MaxBuffered),
		SyncInterval: cfg.DLog.SyncInterval.D(),
	})
	if err != nil {
		return nil, fmt.Errorf("dlog: %w", err)
	}
	kv, err := kvdb.Open(cfg.DataDir)
	if err != nil {
		_ = logs.Close(context.Background())
		return nil, fmt.Errorf("kvdb: %w", err)
	}
	mg, err := buildMongo(cfg)
	if err != nil {
		_ = logs.Close(context.Background())
		_ = kv.Close(context.Background())
		return nil, err
	}
	log.Info("servants ready", "idgen_worker_id", cfg.IDGen.WorkerID, "data_dir", cfg.DataDir)
	return &servants{
		fun: servant.New(servant.Parts{
			Version: version, IDs: ids, LCache: lcache.New(int64(cfg.LCache.MaxBytes)),
			Locks: lock.New(maxLeases, nil), Logs: logs, KV: kv, Cache: cache, Mongo: mg,
			MaxKeyLen: cfg.MaxKeyLen, MaxItemSize: int(cfg.MaxItemSize), ClusterLocks: clusterLocks,
		}),
		logs: logs, kv: kv, mongo: mg,
	}, nil
}

// close flushes and closes the servants that hold files.
func (s *servants) close(ctx context.Context) error {
	return errors.Join(s.logs.Close(ctx), s.kv.Close(ctx), closeMongo(ctx, s.mongo))
}

// idWait is how long id_next waits for a clock that stepped back past
// what the generator may run ahead of it, before it fails.
const idWait = time.Second
