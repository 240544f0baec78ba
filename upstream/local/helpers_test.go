package local

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fae-sidecar/fae/proto/memcache"
)

// baseUnix is the fake clock's start; absolute exptimes in tests are
// written relative to it.
const baseUnix = 1_700_000_000

// fakeClock is a settable clock, safe for concurrent use.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(baseUnix * int64(time.Second))
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// step is one request of a scenario: advance the clock, serve req, and
// expect exactly want as the reply.
type step struct {
	advance time.Duration
	req     *memcache.Request
	want    string
}

func newTestStore(cfg Config) (*Store, *fakeClock) {
	clk := newFakeClock()
	cfg.Now = clk.Now
	return New(cfg), clk
}

// runSteps serves the steps in order on a fresh store.
func runSteps(t *testing.T, cfg Config, steps []step) *Store {
	t.Helper()
	s, clk := newTestStore(cfg)
	for i, st := range steps {
		clk.Advance(st.advance)
		got, later := s.Serve(st.req, nil, nil)
		if later {
			t.Fatalf("step %d (%s): Serve took the request over", i, wire(st.req))
		}
		if string(got) != st.want {
			t.Fatalf("step %d %q:\n got %q\nwant %q", i, wire(st.req), got, st.want)
		}
	}
	return s
}

func keys(ks []string) [][]byte {
	out := make([][]byte, len(ks))
	for i, k := range ks {
		out[i] = []byte(k)
	}
	return out
}

func get(ks ...string) *memcache.Request {
	return &memcache.Request{Cmd: memcache.CmdGet, Keys: keys(ks)}
}

func gets(ks ...string) *memcache.Request {
	return &memcache.Request{Cmd: memcache.CmdGets, Keys: keys(ks)}
}

func gat(exp int64, ks ...string) *memcache.Request {
	return &memcache.Request{Cmd: memcache.CmdGat, Exptime: exp, Keys: keys(ks)}
}

func gats(exp int64, ks ...string) *memcache.Request {
	return &memcache.Request{Cmd: memcache.CmdGats, Exptime: exp, Keys: keys(ks)}
}

func stor(cmd memcache.Command, key string, flags uint32, exp int64, data string) *memcache.Request {
	return &memcache.Request{Cmd: cmd, Keys: keys([]string{key}), Flags: flags, Exptime: exp, Data: []byte(data)}
}

func set(key string, flags uint32, exp int64, data string) *memcache.Request {
	return stor(memcache.CmdSet, key, flags, exp, data)
}

func cas(key string, flags uint32, exp int64, data string, unique uint64) *memcache.Request {
	r := stor(memcache.CmdCas, key, flags, exp, data)
	r.Cas = unique
	return r
}

func del(key string) *memcache.Request {
	return &memcache.Request{Cmd: memcache.CmdDelete, Keys: keys([]string{key})}
}

func incr(key string, delta uint64) *memcache.Request {
	return &memcache.Request{Cmd: memcache.CmdIncr, Keys: keys([]string{key}), Delta: delta}
}

func decr(key string, delta uint64) *memcache.Request {
	return &memcache.Request{Cmd: memcache.CmdDecr, Keys: keys([]string{key}), Delta: delta}
}

func touch(key string, exp int64) *memcache.Request {
	return &memcache.Request{Cmd: memcache.CmdTouch, Keys: keys([]string{key}), Exptime: exp}
}

func flushAll() *memcache.Request { return &memcache.Request{Cmd: memcache.CmdFlushAll} }

func flushIn(delay int64) *memcache.Request {
	return &memcache.Request{Cmd: memcache.CmdFlushAll, Exptime: delay, HasArg: true}
}

func noreply(r *memcache.Request) *memcache.Request {
	r.NoReply = true
	return r
}

// wire is r in the text protocol, written here rather than taken from the
// parser's package so that these tests stand alone.
func wire(r *memcache.Request) string {
	var b strings.Builder
	b.WriteString(r.Cmd.String())
	num := func(v any) { fmt.Fprintf(&b, " %d", v) }
	if r.Cmd == memcache.CmdGat || r.Cmd == memcache.CmdGats {
		num(r.Exptime)
	}
	for _, k := range r.Keys {
		b.WriteByte(' ')
		b.Write(k)
	}
	switch {
	case r.Cmd.IsStorage():
		num(r.Flags)
		num(r.Exptime)
		num(len(r.Data))
		if r.Cmd == memcache.CmdCas {
			num(r.Cas)
		}
	case r.Cmd == memcache.CmdIncr || r.Cmd == memcache.CmdDecr:
		num(r.Delta)
	case r.Cmd == memcache.CmdTouch:
		num(r.Exptime)
	case r.Cmd == memcache.CmdFlushAll && r.HasArg:
		num(r.Exptime)
	}
	if r.NoReply {
		b.WriteString(" noreply")
	}
	b.WriteString("\r\n")
	if r.Cmd.IsStorage() {
		b.Write(r.Data)
		b.WriteString("\r\n")
	}
	return b.String()
}

// statsOf returns the store's statistics by name.
func statsOf(s *Store) map[string]uint64 {
	m := map[string]uint64{}
	s.Stats(func(name string, v uint64) { m[name] = v })
	return m
}
