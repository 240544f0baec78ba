package spool

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// BenchmarkAppend measures Append (a bbolt transaction and its fsync) on
// the disk of the test's temporary directory, from one writer and from
// several at once, with group commit and with one commit per Append,
// reporting the latency percentiles a client waiting for STORED would see.
//
//	go test -run '^$' -bench Append -benchtime 2000x ./router/spool/
func BenchmarkAppend(b *testing.B) {
	value := strings.Repeat("v", 100)
	for _, bc := range []struct {
		writers int
		group   bool
	}{{1, true}, {1, false}, {8, true}, {8, false}, {32, true}, {32, false}} {
		commit := map[bool]string{true: "group", false: "alone"}[bc.group]
		writers := bc.writers
		b.Run(fmt.Sprintf("writers=%d/commit=%s", writers, commit), func(b *testing.B) {
			s, err := Open(Config{Path: filepath.Join(b.TempDir(), "spool.db")})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			s.group.off = !bc.group
			var (
				mu   sync.Mutex
				lat  []time.Duration
				next = make(chan int)
				wg   sync.WaitGroup
			)
			b.ResetTimer()
			for w := range writers {
				wg.Go(func() {
					var mine []time.Duration
					for i := range next {
						start := time.Now()
						if _, err := s.Append(context.Background(), set(s1, fmt.Sprint("k", w, "-", i), value)); err != nil {
							b.Error(err)
						}
						mine = append(mine, time.Since(start))
					}
					mu.Lock()
					lat = append(lat, mine...)
					mu.Unlock()
				})
			}
			for i := range b.N {
				next <- i
			}
			close(next)
			wg.Wait()
			b.StopTimer()
			slices.Sort(lat)
			pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) }
			b.ReportMetric(pct(0.50), "p50-µs")
			b.ReportMetric(pct(0.99), "p99-µs")
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
		})
	}
}
