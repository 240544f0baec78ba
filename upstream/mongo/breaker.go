package mongo

import (
	"fmt"
	"time"

	"github.com/afex/hystrix-go/hystrix"
)

// Breaker guards one shard. Allow is asked before each call; each allowed
// call's outcome is reported: ok is false when the call had no answer from
// the server. Implementations are safe for concurrent use.
type Breaker interface {
	Allow() bool
	Report(ok bool, took time.Duration)
	// Open reports whether the breaker refuses calls now.
	Open() bool
}

// BreakerConfig holds hystrix's rules for a shard's breaker: it opens when
// at least MinRequests calls were made in the last ten seconds and
// ErrorPercent of them failed, stays open for SleepWindow, then lets one
// call through; its success closes it again.
type BreakerConfig struct {
	MinRequests  int           // default 20
	ErrorPercent int           // default 50
	SleepWindow  time.Duration // default 5s
}

func (c BreakerConfig) withDefaults() BreakerConfig {
	if c.MinRequests == 0 {
		c.MinRequests = hystrix.DefaultVolumeThreshold
	}
	if c.ErrorPercent == 0 {
		c.ErrorPercent = hystrix.DefaultErrorPercentThreshold
	}
	if c.SleepWindow == 0 {
		c.SleepWindow = time.Duration(hystrix.DefaultSleepWindow) * time.Millisecond
	}
	return c
}

// hystrixBreaker is a Breaker on a hystrix-go circuit. hystrix-go keeps
// its circuits in a process-wide registry by name, each with a metrics
// goroutine that lives as long as the process, so every pool names its
// circuits uniquely (pool name, shard, instance) and makes them once, in
// New.
type hystrixBreaker struct {
	cb *hystrix.CircuitBreaker
}

func newHystrixBreaker(name string, cfg BreakerConfig) (*hystrixBreaker, error) {
	cfg = cfg.withDefaults()
	hystrix.ConfigureCommand(name, hystrix.CommandConfig{
		RequestVolumeThreshold: cfg.MinRequests,
		ErrorPercentThreshold:  cfg.ErrorPercent,
		SleepWindow:            int(cfg.SleepWindow / time.Millisecond),
	})
	cb, _, err := hystrix.GetCircuit(name)
	if err != nil {
		return nil, fmt.Errorf("breaker %s: %w", name, err)
	}
	return &hystrixBreaker{cb: cb}, nil
}

func (b *hystrixBreaker) Allow() bool { return b.cb.AllowRequest() }

func (b *hystrixBreaker) Report(ok bool, took time.Duration) {
	ev := "success"
	if !ok {
		ev = "failure"
	}
	// An error here is hystrix's metrics channel being full: the outcome
	// is dropped from its window, which only delays the breaker.
	_ = b.cb.ReportEvent([]string{ev}, time.Now().Add(-took), took)
}

func (b *hystrixBreaker) Open() bool { return b.cb.IsOpen() }
