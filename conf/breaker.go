package conf

import "time"

// Breaker gives each server of a memcache pool a circuit breaker with
// hystrix's rules: while a server's breaker is open its requests are not
// sent (they go to the pool's failover server if it has any, else are
// answered SERVER_ERROR at once), and after SleepWindow one request goes as
// the probe; its reply closes the breaker. Unset fields take hystrix's
// defaults.
type Breaker struct {
	// MinRequests is how many outcomes the rolling window must hold before
	// the breaker may open. Default 20.
	MinRequests int `yaml:"min_requests"`
	// ErrorPercent is the share of failed outcomes (timeouts, refused or
	// broken connections, full queues) in the window, in percent, that
	// opens the breaker: 1 to 100. Default 50.
	ErrorPercent int `yaml:"error_percent"`
	// SleepWindow is how long an open breaker refuses requests before it
	// lets one through as the probe. Default 5s.
	SleepWindow Duration `yaml:"sleep_window"`
	// Window is the span of the rolling window of outcomes (ten buckets).
	// Default 10s.
	Window Duration `yaml:"window"`
}

// Hystrix's defaults, which upstream/breaker takes too.
const (
	defaultBreakerMinRequests  = 20
	defaultBreakerErrorPercent = 50
	defaultBreakerSleepWindow  = 5 * time.Second
	defaultBreakerWindow       = 10 * time.Second
	// maxBreakerMinRequests is the most outcomes a breaker's bucket counts.
	maxBreakerMinRequests = 1<<20 - 1
)

// breakerDefaults fills the unset fields of a pool's breaker, if it has
// one.
func (p *Pool) breakerDefaults() {
	b := p.Breaker
	if b == nil {
		return
	}
	if b.MinRequests == 0 {
		b.MinRequests = defaultBreakerMinRequests
	}
	if b.ErrorPercent == 0 {
		b.ErrorPercent = defaultBreakerErrorPercent
	}
	if b.SleepWindow == 0 {
		b.SleepWindow = Duration(defaultBreakerSleepWindow)
	}
	if b.Window == 0 {
		b.Window = Duration(defaultBreakerWindow)
	}
}

// validateBreaker checks the breaker of the pool p named by field path f:
// only memcache pools have one, and its fields are in range (after
// breakerDefaults).
func validateBreaker(f string, p *Pool, bad func(field, format string, a ...any)) {
	b := p.Breaker
	if b == nil {
		return
	}
	f += ".breaker"
	if p.Kind != KindMemcache {
		bad(f, "only a memcache pool has breakers (one per server)")
		return
	}
	if b.MinRequests < 1 || b.MinRequests > maxBreakerMinRequests {
		bad(f+".min_requests", "must be between 1 and %d", maxBreakerMinRequests)
	}
	if b.ErrorPercent < 1 || b.ErrorPercent > 100 {
		bad(f+".error_percent", "must be between 1 and 100")
	}
	if b.SleepWindow <= 0 {
		bad(f+".sleep_window", "must be positive, e.g. 1s")
	}
	if b.Window < Duration(10*time.Millisecond) {
		bad(f+".window", "must be at least 10ms (it is cut into ten buckets), e.g. 10s")
	}
}
