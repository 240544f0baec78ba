package breaker_test

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/afex/hystrix-go/hystrix"
	"github.com/sony/gobreaker/v2"

	"github.com/fae-sidecar/fae/upstream/breaker"
)

// The benchmarks below run one request's breaker work (admit, report) with
// the same rules in this package, sony/gobreaker/v2 and hystrix-go's
// circuit API, in one run so that their ratios hold on a noisy machine:
//
//	go test -run '^$' -bench Breakers -benchmem ./upstream/breaker/
//
// closed: every request succeeds; open: every request is refused;
// parallel: closed, from GOMAXPROCS goroutines on one breaker.

var errBench = errors.New("bench: failed")

func hystrixRules() breaker.Config {
	return breaker.Config{MinRequests: 20, ErrorPercent: 50, SleepWindow: time.Hour, Window: 10 * time.Second}
}

// gobreakerRules are hystrix's rules in gobreaker's terms: a 10s rolling
// window of 1s buckets, trip on volume and error share, one half-open probe.
func gobreakerRules() gobreaker.Settings {
	return gobreaker.Settings{
		MaxRequests:  1,
		Interval:     10 * time.Second,
		BucketPeriod: time.Second,
		Timeout:      time.Hour,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			return c.Requests >= 20 && c.TotalFailures*100 >= 50*c.Requests
		},
	}
}

var hystrixName atomic.Int64

// hystrixCircuit returns a fresh circuit of hystrix-go (its circuits live
// in a package-level registry, by name).
func hystrixCircuit(b *testing.B) *hystrix.CircuitBreaker {
	hystrix.SetLogger(hystrix.NoopLogger{})
	name := "bench" + string(rune('a'+hystrixName.Add(1)))
	hystrix.ConfigureCommand(name, hystrix.CommandConfig{
		Timeout: 1000, RequestVolumeThreshold: 20, ErrorPercentThreshold: 50, SleepWindow: 3600_000,
	})
	c, _, err := hystrix.GetCircuit(name)
	if err != nil {
		b.Fatal(err)
	}
	return c
}

func BenchmarkBreakers(b *testing.B) {
	success, failure := []string{"success"}, []string{"failure"}
	ok := func() (struct{}, error) { return struct{}{}, nil }
	fail := func() (struct{}, error) { return struct{}{}, errBench }

	b.Run("fae/closed", func(b *testing.B) {
		br := breaker.New(hystrixRules(), nil)
		b.ReportAllocs()
		for b.Loop() {
			br.Done(br.Allow(), true)
		}
	})
	b.Run("fae/open", func(b *testing.B) {
		br := breaker.New(hystrixRules(), nil)
		for range 20 {
			br.Done(br.Allow(), false)
		}
		b.ReportAllocs()
		for b.Loop() {
			if t := br.Allow(); t.OK() {
				b.Fatal("open breaker let a request through")
			}
		}
	})
	b.Run("fae/parallel", func(b *testing.B) {
		br := breaker.New(hystrixRules(), nil)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				br.Done(br.Allow(), true)
			}
		})
	})

	b.Run("gobreaker/execute/closed", func(b *testing.B) {
		cb := gobreaker.NewCircuitBreaker[struct{}](gobreakerRules())
		b.ReportAllocs()
		for b.Loop() {
			cb.Execute(ok)
		}
	})
	b.Run("gobreaker/twostep/closed", func(b *testing.B) {
		cb := gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreakerRules())
		b.ReportAllocs()
		for b.Loop() {
			done, err := cb.Allow()
			if err == nil {
				done(nil)
			}
		}
	})
	b.Run("gobreaker/execute/open", func(b *testing.B) {
		cb := gobreaker.NewCircuitBreaker[struct{}](gobreakerRules())
		for range 20 {
			cb.Execute(fail)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := cb.Execute(ok); err == nil {
				b.Fatal("open breaker let a request through")
			}
		}
	})
	b.Run("gobreaker/execute/parallel", func(b *testing.B) {
		cb := gobreaker.NewCircuitBreaker[struct{}](gobreakerRules())
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				cb.Execute(ok)
			}
		})
	})

	// hystrix-go's circuit API: AllowRequest, then ReportEvent, which
	// allocates the event and hands it to the circuit's metrics goroutine;
	// that goroutine's work (a goroutine per collector per event) is not in
	// ns/op, and events are dropped once its channel of 2000 is full.
	b.Run("hystrix/circuit/closed", func(b *testing.B) {
		c := hystrixCircuit(b)
		b.ReportAllocs()
		for b.Loop() {
			start := time.Now()
			if c.AllowRequest() {
				c.ReportEvent(success, start, 0)
			}
		}
	})
	b.Run("hystrix/circuit/open", func(b *testing.B) {
		c := hystrixCircuit(b)
		for range 40 {
			c.ReportEvent(failure, time.Now(), 0)
		}
		deadline := time.Now().Add(5 * time.Second)
		for c.AllowRequest() { // the metrics goroutine counts the failures
			if time.Now().After(deadline) {
				b.Fatal("hystrix circuit did not open")
			}
			time.Sleep(time.Millisecond)
		}
		b.ReportAllocs()
		for b.Loop() {
			if c.AllowRequest() {
				b.Fatal("open circuit let a request through")
			}
		}
	})
	b.Run("hystrix/circuit/parallel", func(b *testing.B) {
		c := hystrixCircuit(b)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				start := time.Now()
				if c.AllowRequest() {
					c.ReportEvent(success, start, 0)
				}
			}
		})
	})
	b.Run("hystrix/do/closed", func(b *testing.B) {
		name := hystrixCircuit(b).Name
		run := func() error { return nil }
		b.ReportAllocs()
		for b.Loop() {
			hystrix.Do(name, run, nil)
		}
	})
}
