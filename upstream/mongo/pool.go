package mongo

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	driver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Config configures a Pool.
type Config struct {
	// Name is the pool's name, in errors, statistics and breaker names.
	Name string
	// Shards are the shards' connection strings (mongodb://...), by shard
	// id; at least one.
	Shards []string
	// Database is the database the calls' collections are in.
	Database string
	// Timeout bounds each call, from the moment it is let through to its
	// answer, server selection and connecting included. Default 1s.
	Timeout time.Duration
	// MaxConns bounds each shard's connections and its calls in flight.
	// Default 32.
	MaxConns int
	// MaxResultBytes bounds the documents one FindAll returns. Default
	// 16MiB.
	MaxResultBytes int
	// Breaker configures the shards' breakers.
	Breaker BreakerConfig
	// NewBreaker, when set, makes shard i's breaker instead of hystrix-go.
	NewBreaker func(shard int) Breaker
}

// Defaults of Config.
const (
	DefaultTimeout        = time.Second
	DefaultMaxConns       = 32
	DefaultMaxResultBytes = 16 << 20
)

// Pool holds one driver client per shard. Safe for concurrent use.
type Pool struct {
	cfg    Config
	shards []*shard

	mu     sync.RWMutex // held for reading by calls in flight
	closed bool
}

type shard struct {
	client  *driver.Client
	db      *driver.Database
	slots   chan struct{} // a token per call in flight, MaxConns of them
	breaker Breaker
	stats   *shardStats
}

// New returns a pool over cfg's shards. The clients connect when first
// used, so a shard that is down does not keep the pool from starting: its
// calls fail until it is back.
func New(cfg Config) (*Pool, error) {
	if len(cfg.Shards) == 0 {
		return nil, errors.New("mongo: no shards")
	}
	if cfg.Database == "" {
		return nil, errors.New("mongo: no database")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	if cfg.MaxResultBytes <= 0 {
		cfg.MaxResultBytes = DefaultMaxResultBytes
	}
	p := &Pool{cfg: cfg}
	for i, uri := range cfg.Shards {
		s, err := p.newShard(i, uri)
		if err != nil {
			_ = p.Close(context.Background())
			return nil, fmt.Errorf("mongo: shard %d: %w", i, err)
		}
		p.shards = append(p.shards, s)
	}
	return p, nil
}

func (p *Pool) newShard(i int, uri string) (*shard, error) {
	opts := options.Client().ApplyURI(uri).
		SetAppName("faed").
		SetMaxPoolSize(uint64(p.cfg.MaxConns)).
		SetConnectTimeout(p.cfg.Timeout).
		SetServerSelectionTimeout(p.cfg.Timeout).
		// Bounds what the driver does outside a call's context: a
		// transaction's commit and abort, and its retries.
		SetTimeout(p.cfg.Timeout)
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	client, err := driver.Connect(opts)
	if err != nil {
		return nil, err
	}
	var b Breaker
	if p.cfg.NewBreaker != nil {
		b = p.cfg.NewBreaker(i)
	} else {
		// hystrix-go's registry is process-wide: the pool's address keeps
		// two pools of one name (a reload, tests) apart.
		hb, err := newHystrixBreaker(fmt.Sprintf("mongo:%s:%d@%p", p.cfg.Name, i, p), p.cfg.Breaker)
		if err != nil {
			_ = client.Disconnect(context.Background())
			return nil, err
		}
		b = hb
	}
	return &shard{
		client:  client,
		db:      client.Database(p.cfg.Database),
		slots:   make(chan struct{}, p.cfg.MaxConns),
		breaker: b,
		stats:   newShardStats(),
	}, nil
}

// Shards returns the number of shards.
func (p *Pool) Shards() int { return len(p.shards) }

// Close waits for the calls in flight and disconnects every shard; calls
// after it fail with ErrClosed.
func (p *Pool) Close(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	var errs []error
	for _, s := range p.shards {
		errs = append(errs, s.client.Disconnect(ctx))
	}
	return errors.Join(errs...)
}

// do runs op on the shard of id: at once ErrLimit when the shard has
// MaxConns calls in flight, ErrBreakerOpen while its breaker is open;
// otherwise op with a context bounded by Timeout, its outcome counted and
// reported to the breaker. Errors name the pool and the shard.
func (p *Pool) do(ctx context.Context, id int32, op func(ctx context.Context, s *shard) error) error {
	if id < 0 {
		return fmt.Errorf("mongo %s: shard id %d: %w: shard ids are 0 or more", p.cfg.Name, id, ErrBadArgument)
	}
	i := int(id) % len(p.shards)
	s := p.shards[i]
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return fmt.Errorf("mongo %s: %w", p.cfg.Name, ErrClosed)
	}
	select {
	case s.slots <- struct{}{}:
	default:
		s.stats.refused.Add(1)
		return fmt.Errorf("mongo %s shard %d: %w: %d calls in flight", p.cfg.Name, i, ErrLimit, p.cfg.MaxConns)
	}
	defer func() { <-s.slots }()
	if !s.breaker.Allow() {
		s.stats.rejected.Add(1)
		return fmt.Errorf("mongo %s shard %d: %w", p.cfg.Name, i, ErrBreakerOpen)
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	start := time.Now()
	err, failed := outcome(op(ctx, s))
	took := time.Since(start)
	s.breaker.Report(!failed, took)
	s.stats.record(took, err != nil && !errors.Is(err, ErrNotFound), errors.Is(err, ErrTimeout))
	var se *ServerError
	if err == nil || errors.Is(err, ErrNotFound) || errors.As(err, &se) {
		return err
	}
	return fmt.Errorf("mongo %s shard %d: %w", p.cfg.Name, i, err)
}
