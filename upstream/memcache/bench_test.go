package memcache

import (
	"bufio"
	"bytes"
	"net"
	"strconv"
	"testing"

	"github.com/fae-sidecar/fae/proto/memcache"
	"github.com/fae-sidecar/fae/upstream/breaker"
)

// benchWaiter is a reusable Waiter that signals a buffered channel, so the
// benchmark itself does not allocate per request.
type benchWaiter struct {
	ch   chan struct{}
	want int
	bad  int
}

func (w *benchWaiter) Done(reply []byte) {
	if len(reply) != w.want {
		w.bad++
	}
	w.ch <- struct{}{}
}

// TestServeZeroAllocs pins the request path, reader goroutine included, at
// zero allocations per request in steady state.
func TestServeZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race")
	}
	p := newPool(t, Config{Servers: []Server{{Addr: startMemcached(t)}, {Addr: startMemcached(t)}}})
	value := bytes.Repeat([]byte{'v'}, 100)
	setReq := &memcache.Request{Cmd: memcache.CmdSet, Keys: [][]byte{[]byte("za")}, Data: value}
	do(t, p, setReq)
	do(t, p, &memcache.Request{Cmd: memcache.CmdSet, Keys: [][]byte{[]byte("zb")}, Data: value})
	cases := []struct {
		name string
		req  *memcache.Request
	}{
		{"get", get("za")},
		{"set", setReq},
		{"multi-get", get("za", "zb", "zc", "za")},
		{"ms base64 key", metaReq(t, "ms eiBh 100 b\r\n"+string(value)+"\r\n")},
		{"gat", &memcache.Request{Cmd: memcache.CmdGat, Keys: [][]byte{[]byte("za")}}},
		{"unlink", &memcache.Request{Cmd: memcache.CmdDelete, Keys: [][]byte{[]byte("zu")}, NoReply: true,
			Origin: memcache.OriginUnlink}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { requireZeroAllocs(t, p, tc.req) })
	}
}

// requireZeroAllocs serves req through p again and again and fails t if a
// request allocates, or if a reply's length differs from the first one's.
func requireZeroAllocs(t *testing.T, p *Pool, req *memcache.Request) {
	t.Helper()
	w := &benchWaiter{ch: make(chan struct{}, 1)}
	w.want = len(do(t, p, req))
	out := make([]byte, 0, 64)
	n := testing.AllocsPerRun(200, func() {
		if _, async := p.Serve(req, out, w); async {
			<-w.ch
		}
	})
	if n != 0 || w.bad != 0 {
		t.Errorf("%v allocations per request (%d bad replies), want 0", n, w.bad)
	}
}

// metaReq parses a meta request.
func metaReq(t testing.TB, in string) *memcache.Request {
	var p memcache.Parser
	req := &memcache.Request{}
	if _, err := p.Parse([]byte(in), req); err != nil {
		t.Fatal(err)
	}
	return req
}

// BenchmarkPoolGet measures one get hit (100-byte value) through the pool
// against a real memcached; depth is the number of requests each goroutine
// keeps in flight. The -breaker cases give each server a breaker (closed:
// every request is admitted and its reply reported).
func BenchmarkPoolGet(b *testing.B) {
	addr := startMemcached(b)
	value := bytes.Repeat([]byte{'v'}, 100)
	type benchCase struct {
		name     string
		servers  int
		parallel bool
		depth    int
		breaker  bool
	}
	var cases []benchCase
	for _, bc := range []benchCase{
		{name: "serial", servers: 1, depth: 1},
		{name: "parallel", servers: 1, parallel: true, depth: 1},
		{name: "parallel-depth16", servers: 1, parallel: true, depth: 16},
		{name: "3servers-parallel-depth16", servers: 3, parallel: true, depth: 16},
	} {
		withBreaker := bc
		withBreaker.name, withBreaker.breaker = bc.name+"-breaker", true
		cases = append(cases, bc, withBreaker)
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			servers := []Server{{Addr: addr}}
			for range bc.servers - 1 {
				servers = append(servers, Server{Addr: startMemcached(b)})
			}
			cfg := Config{Servers: servers}
			if bc.breaker {
				cfg.Breaker = &breaker.Config{} // hystrix's defaults
			}
			p := newPool(b, cfg)
			const nkeys = 64
			var keys [nkeys]*memcache.Request
			want := make([]int, nkeys)
			for i := range keys {
				k := "bench:" + strconv.Itoa(i)
				if got := do(b, p, &memcache.Request{Cmd: memcache.CmdSet, Keys: [][]byte{[]byte(k)}, Data: value}); string(got) != memcache.ReplyStored {
					b.Fatalf("set: %q", got)
				}
				keys[i] = get(k)
				want[i] = len(memcache.AppendValue(nil, []byte(k), 0, value, 0, false)) + len(memcache.ReplyEnd)
			}
			run := func(n func() bool, seed int) {
				w := &benchWaiter{ch: make(chan struct{}, bc.depth), want: want[seed%nkeys]}
				out := make([]byte, 0, 256)
				inflight := 0
				for n() {
					// One key per goroutine keeps the length check simple.
					if _, async := p.Serve(keys[seed%nkeys], out[:0], w); !async {
						b.Fatal("answered at once")
					}
					if inflight++; inflight == bc.depth {
						<-w.ch
						inflight--
					}
				}
				for ; inflight > 0; inflight-- {
					<-w.ch
				}
				if w.bad > 0 {
					b.Errorf("%d replies of the wrong length", w.bad)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			if !bc.parallel {
				run(b.Loop, 0)
				return
			}
			var seed int64
			var mu = make(chan struct{}, 1)
			b.RunParallel(func(pb *testing.PB) {
				mu <- struct{}{}
				seed++
				s := int(seed)
				<-mu
				run(pb.Next, s)
			})
		})
	}
}

// BenchmarkPoolMultiGet measures a 10-key get spread over three servers
// (one connection each: three parts, merged).
func BenchmarkPoolMultiGet(b *testing.B) {
	p := newPool(b, Config{ConnsPerServer: 1, Servers: []Server{{Addr: startMemcached(b)}, {Addr: startMemcached(b)}, {Addr: startMemcached(b)}}})
	value := bytes.Repeat([]byte{'v'}, 100)
	req := &memcache.Request{Cmd: memcache.CmdGet}
	want := 0
	for i := range 10 {
		k := []byte("multi:" + strconv.Itoa(i))
		do(b, p, &memcache.Request{Cmd: memcache.CmdSet, Keys: [][]byte{k}, Data: value})
		req.Keys = append(req.Keys, k)
		want += len(memcache.AppendValue(nil, k, 0, value, 0, false))
	}
	w := &benchWaiter{ch: make(chan struct{}, 1), want: want + len(memcache.ReplyEnd)}
	out := make([]byte, 0, w.want)
	b.ReportAllocs()
	for b.Loop() {
		// Serve answers at once when every part was answered before it
		// returned (fast servers, a descheduled caller).
		if reply, async := p.Serve(req, out[:0], w); !async {
			if len(reply) != w.want {
				w.bad++
			}
			continue
		}
		<-w.ch
	}
	if w.bad > 0 {
		b.Errorf("%d replies of the wrong length", w.bad)
	}
}

// BenchmarkDirectGet is the baseline: the same get on one connection
// straight to memcached, one request at a time.
func BenchmarkDirectGet(b *testing.B) {
	addr := startMemcached(b)
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	br := bufio.NewReader(nc)
	nc.Write([]byte("set bench 0 0 100\r\n" + string(bytes.Repeat([]byte{'v'}, 100)) + "\r\n"))
	br.ReadSlice('\n')
	req := []byte("get bench\r\n")
	b.ReportAllocs()
	for b.Loop() {
		nc.Write(req)
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				b.Fatal(err)
			}
			if string(line) == "END\r\n" {
				break
			}
		}
	}
}
