package memcache

import (
	"bytes"
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/fae-sidecar/fae/internal/testproc"
	"github.com/fae-sidecar/fae/proto/memcache"
)

// TestConcurrentClients: many goroutines (as many event loops) share one
// pool over three servers; every reply must be the right one for its
// request. Run with -race.
func TestConcurrentClients(t *testing.T) {
	servers := []Server{{Addr: startMemcached(t)}, {Addr: startMemcached(t)}, {Addr: startMemcached(t)}}
	before := runtime.NumGoroutine()
	p, err := New(Config{Servers: servers, MaxPending: 4096, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	const clients, rounds = 8, 300
	value := func(c, i int) string {
		return "value-" + strconv.Itoa(c) + "-" + strconv.Itoa(i) + "-" + string(bytes.Repeat([]byte{'v'}, i%97))
	}
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(c), 1))
			key := func(i int) string { return "c" + strconv.Itoa(c) + ":" + strconv.Itoa(i) }
			for i := range rounds {
				if got := do(t, p, set(key(i), value(c, i))); string(got) != memcache.ReplyStored {
					t.Errorf("set: %q", got)
					return
				}
				// Pipelined noreply writes followed by a read of the same
				// key must read the write.
				p.Serve(noreply(set(key(i)+"n", "first")), nil, newRecorder(t))
				p.Serve(noreply(set(key(i)+"n", value(c, i))), nil, newRecorder(t))
				j := rng.IntN(i + 1)
				keys := []string{key(i) + "n", key(j), "missing", key(i)}
				var want []byte
				for _, k := range keys {
					var v string
					switch k {
					case "missing":
						continue
					case key(j):
						v = value(c, j)
					default:
						v = value(c, i)
					}
					want = memcache.AppendValue(want, []byte(k), 0, []byte(v), 0, false)
				}
				want = append(want, memcache.ReplyEnd...)
				if got := do(t, p, get(keys...)); !bytes.Equal(got, want) {
					t.Errorf("get %q:\n%q\nwant\n%q", keys, got, want)
					return
				}
			}
		})
	}
	wg.Wait()
	p.Close()
	testproc.WaitFor(t, "goroutines to settle", func() bool { return runtime.NumGoroutine() <= before })
}
