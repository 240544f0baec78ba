package memcache

import (
	"bufio"
	"bytes"
	"net"
	"strconv"
	"testing"

	"github.com/fae-sidecar/fae/proto/memcache"
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
		t.Run(tc.name, func(t *testing.T) {
			w := &benchWaiter{ch: make(chan struct{}, 1)}
			w.want = len(do(t, p, tc.req))
			out := make([]byte, 0, 64)
			n := testing.AllocsPerRun(200, func() {
				if _, async := p.Serve(tc.req, out, w); async {
					<-w.ch
				}
			})
			if n != 0 || w.bad != 0 {
				t.Errorf("%v allocations per request (%d bad replies), want 0", n, w.bad)
			}
		})
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
// keeps in flight.
func BenchmarkPoolGet(b *testing.B) {
	addr := startMemcached(b)
	value := bytes.Repeat([]byte{'v'}, 100)
	for _, bc := range []struct {
		name     string
		servers  int
		parallel bool
		depth    int
	}{
		{"serial", 1, false, 1},
		{"parallel", 1, true, 1},
		{"parallel-depth16", 1, true, 16},
		{"3servers-parallel-depth16", 3, true, 16},
	} {
		b.Run(bc.name, func(b *testing.B) {
			servers := []Server{{Addr: addr}}
			for range bc.servers - 1 {
				servers = append(servers, Server{Addr: startMemcached(b)})
			}
			p := newPool(b, Config{Servers: servers})
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
