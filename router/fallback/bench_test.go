package fallback

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/fae-sidecar/fae/internal/testproc"
	"github.com/fae-sidecar/fae/proto/memcache"
	"github.com/fae-sidecar/fae/upstream"
	mc "github.com/fae-sidecar/fae/upstream/memcache"
)

// benchServe serves request on p b.N times, one at a time (goroutine
// transport), and reports allocations.
func benchServe(b *testing.B, p upstream.Pool, request string) {
	var req memcache.Request
	var parser memcache.Parser
	if _, err := parser.Parse([]byte(request), &req); err != nil {
		b.Fatal(err)
	}
	w := make(waiter, 1)
	var out []byte
	b.ReportAllocs()
	for b.Loop() {
		var async bool
		out, async = p.Serve(&req, out[:0], w)
		if async {
			out = <-w
		}
	}
}

// What on_failure: memory costs a write while its server is up, against
// the same pool without it; and a write spooled while it is down (an
// fsync each, one writer).
func BenchmarkSet(b *testing.B) {
	addr := testproc.StartMemcached(b)
	newMC := func(server string) *mc.Pool {
		p, err := mc.New(mc.Config{Servers: []mc.Server{{Addr: server}}, Transport: mc.TransportGoroutine, Timeout: time.Second})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { p.Close() })
		return p
	}
	const set = "set k 0 0 5\r\nvalue\r\n"
	b.Run("fail", func(b *testing.B) { benchServe(b, newMC(addr), set) })
	b.Run("memory/up", func(b *testing.B) {
		p := New(newMC(addr), Config{Pool: "b", Path: filepath.Join(b.TempDir(), "s.db")})
		defer p.Close()
		benchServe(b, p, set)
	})
	b.Run("memory/down", func(b *testing.B) {
		p := New(newMC(testproc.FreePort(b)), Config{Pool: "b", Path: filepath.Join(b.TempDir(), "s.db"), MinBackoff: time.Hour, MaxBackoff: time.Hour})
		defer p.Close()
		benchServe(b, p, set)
	})
}
