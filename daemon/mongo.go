package daemon

import (
	"context"
	"errors"
	"fmt"

	"github.com/fae-sidecar/fae/conf"
	"github.com/fae-sidecar/fae/upstream/mongo"
)

// buildMongo makes the mongo pools of cfg, by name. Their clients connect
// when first used, so a shard that is down does not keep faed from
// starting.
func buildMongo(cfg *conf.Config) (map[string]*mongo.Pool, error) {
	pools := map[string]*mongo.Pool{}
	for name, pc := range cfg.Pools {
		if pc.Kind != conf.KindMongo {
			continue
		}
		p, err := mongo.New(mongo.Config{
			Name:     name,
			Shards:   pc.ShardURIs(),
			Database: pc.Database,
			Timeout:  pc.Timeout.D(),
			MaxConns: pc.MaxConns,
			// A FindAll's documents must fit in one Thrift reply.
			MaxResultBytes: int(cfg.MaxThriftFrame),
		})
		if err != nil {
			_ = closeMongo(context.Background(), pools)
			return nil, fmt.Errorf("pools.%s: %w", name, err)
		}
		pools[name] = p
	}
	return pools, nil
}

// closeMongo disconnects the pools.
func closeMongo(ctx context.Context, pools map[string]*mongo.Pool) error {
	var errs []error
	for _, p := range pools {
		errs = append(errs, p.Close(ctx))
	}
	return errors.Join(errs...)
}

// mongoStats reports every mongo pool's per-shard statistics ("stats
// mongo").
func mongoStats(pools map[string]*mongo.Pool) func(add func(string, uint64)) {
	return func(add func(string, uint64)) {
		for _, p := range pools {
			p.AppendStats(add)
		}
	}
}
