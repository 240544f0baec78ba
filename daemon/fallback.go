package daemon

import (
	"log/slog"
	"net/url"
	"path/filepath"

	"github.com/fae-sidecar/fae/admin"
	"github.com/fae-sidecar/fae/conf"
	"github.com/fae-sidecar/fae/router/fallback"
	mc "github.com/fae-sidecar/fae/upstream/memcache"
)

// spoolDir is where the pools with on_failure: memory keep their spools,
// under data_dir: one file per pool.
const spoolDir = "spool"

// withFallback wraps pool with its fallback to memory when the pool's
// on_failure is memory, else returns nil. Its spool is
// <data_dir>/spool/<pool>.db.
func withFallback(cfg *conf.Config, name string, pc *conf.Pool, pool *mc.Pool, log *slog.Logger) *fallback.Pool {
	if pc.OnFailure != conf.OnFailureMemory {
		return nil
	}
	return fallback.New(pool, fallback.Config{
		Pool:        name,
		Path:        filepath.Join(cfg.DataDir, spoolDir, url.PathEscape(name)+".db"),
		MaxBytes:    int64(pc.MaxBytes),
		MaxItemSize: int(cfg.MaxItemSize),
		Timeout:     pc.Timeout.D(),
		Logger:      log,
	})
}

// spoolStats returns the spool of each server of fb by address; nil
// without fb.
func spoolStats(fb *fallback.Pool) map[string]*admin.Spool {
	if fb == nil {
		return nil
	}
	out := map[string]*admin.Spool{}
	for _, s := range fb.ServerStats() {
		out[s.Addr] = &admin.Spool{Pending: s.Pending, Replayed: s.Replayed, DeadLettered: s.Dead}
	}
	return out
}
