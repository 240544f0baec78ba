// Package breaker is a circuit breaker for one upstream server with
// hystrix's rules, cheap enough for the memcached hot path: it allocates
// nothing, and a request costs one atomic load to admit and a clock read
// plus a few atomic operations to report.
//
// The rules (Config):
//
//   - Outcomes are counted in a rolling window (Window, ten buckets).
//   - While closed, the breaker opens when the window holds at least
//     MinRequests outcomes and ErrorPercent or more of them failed.
//   - While open, every request is refused at once, for SleepWindow.
//   - Then the next request is let through alone as a probe (half-open);
//     every other request is refused until the probe is reported. A probe
//     that succeeds closes the breaker and clears the window; one that fails
//     opens it for another SleepWindow. A probe not reported within
//     SleepWindow is taken as lost, and the next request becomes the probe.
//
// A caller asks Allow for a Ticket before it sends a request and hands the
// ticket back to Done with the outcome. Breaker is safe for concurrent use:
// event loops and goroutines share one per server. Time comes from an
// injected Clock.
package breaker
