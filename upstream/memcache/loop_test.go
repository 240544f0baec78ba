package memcache

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fae-sidecar/fae/internal/testproc"
	"github.com/fae-sidecar/fae/proto/memcache"
	front "github.com/fae-sidecar/fae/server"
	"github.com/fae-sidecar/fae/upstream/breaker"
)

// Tests of the loop transport: requests reach the pool through a real
// front end (server.Server on gnet event loops), so their waiters are the
// server's slots and the pool runs each round trip on the client's loop.

// loopFront serves the memcached protocol on a free address with p as the
// handler, on loops event loops, and stops when the test ends (before p is
// closed, as faed does).
func loopFront(t testing.TB, p *Pool, loops int) string {
	t.Helper()
	addr := freeAddr(t)
	s := front.New(front.Config{
		Addr:   addr,
		Loops:  loops,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}, p)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("front end: %v", err)
		}
	})
	testproc.WaitFor(t, "the front end on "+addr, func() bool {
		nc, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			nc.Close()
		}
		return err == nil
	})
	return addr
}

// sender returns how a test sends p a request on transport tr and reads
// its reply: Serve itself (goroutine), or a client of a front end of one
// loop (loop), whose requests take the loop transport.
func sender(t testing.TB, p *Pool, tr Transport) func(*memcache.Request) []byte {
	if tr == TransportLoop {
		return dialFront(t, loopFront(t, p, 1)).do
	}
	return func(req *memcache.Request) []byte { return do(t, p, req) }
}

// frontClient is one client connection to a front end.
type frontClient struct{ testConn }

func dialFront(t testing.TB, addr string) *frontClient {
	t.Helper()
	c := dialTest(t, addr, 64<<10)
	c.nc.SetDeadline(time.Now().Add(30 * time.Second))
	return &frontClient{c}
}

func (c *frontClient) send(wire []byte) {
	c.t.Helper()
	if _, err := c.nc.Write(wire); err != nil {
		c.t.Fatal(err)
	}
}

// reply reads the reply to req (none for noreply), framed as memcached's
// reply to such a request.
func (c *frontClient) reply(req *memcache.Request) []byte {
	c.t.Helper()
	if req.NoReply {
		return nil
	}
	kind := memcache.FrameLine
	if req.Cmd.IsRetrieval() {
		kind = memcache.FrameValues
	}
	f := memcache.Frame{Kind: kind}
	var got []byte
	for {
		if err := f.Scan(got); err != nil {
			c.t.Fatalf("reply to %s %q: %v (have %q)", req.Cmd, req.Keys, err, got)
		}
		if f.Done {
			return got
		}
		if f.Data > 0 {
			need := f.N + f.Data - len(got)
			buf := make([]byte, need)
			if _, err := io.ReadFull(c.br, buf); err != nil {
				c.t.Fatalf("reply to %s %q: %v (have %q)", req.Cmd, req.Keys, err, got)
			}
			got = append(got, buf...)
			continue
		}
		line, err := c.br.ReadSlice('\n')
		if err != nil && err != bufio.ErrBufferFull {
			c.t.Fatalf("reply to %s %q: %v (have %q)", req.Cmd, req.Keys, err, got)
		}
		got = append(got, line...)
	}
}

// do sends req and reads its reply.
func (c *frontClient) do(req *memcache.Request) []byte {
	c.t.Helper()
	c.send(memcache.AppendRequest(nil, req))
	return c.reply(req)
}

// expect reads exactly want.
func (c *frontClient) expect(want string) {
	c.t.Helper()
	got := make([]byte, len(want))
	if n, err := io.ReadFull(c.br, got); err != nil {
		c.t.Fatalf("read: %v; have %q, want %q", err, got[:n], want)
	}
	if string(got) != want {
		c.t.Fatalf("got %q, want %q", got, want)
	}
}

// loopConns counts the connections memcached at addr has from the pool
// beyond the goroutine transport's (and the one asking).
func loopConns(t testing.TB, p *Pool, addr string) int {
	t.Helper()
	d := dialDirect(t, addr)
	for _, line := range strings.Split(string(d.raw([]byte("stats\r\n"))), "\r\n") {
		if v, ok := strings.CutPrefix(line, "STAT curr_connections "); ok {
			n, _ := strconv.Atoi(v)
			return n - 1 - p.cfg.ConnsPerServer
		}
	}
	t.Fatal("no curr_connections in memcached's stats")
	return 0
}

// TestLoopPassthroughIdentical: through the loop transport, replies are
// byte-identical to memcached's, one request at a time and pipelined in one
// write (values past a read's size included).
func TestLoopPassthroughIdentical(t *testing.T) {
	viaPool, twin := startMemcached(t), startMemcached(t)
	p := newPool(t, Config{Servers: []Server{{Addr: viaPool}}, AllowFlush: true})
	faed := loopFront(t, p, 2)
	d := dialDirect(t, twin)

	big := strings.Repeat("0123456789abcdef", 300<<10/16) // spans many reads
	arith := func(cmd memcache.Command, key string, delta uint64) *memcache.Request {
		r := keyed(cmd, key)
		r.Delta = delta
		return r
	}
	cas := func(key, value string, unique uint64) *memcache.Request {
		r := store(memcache.CmdCas, key, value, 0)
		r.Cas = unique
		return r
	}
	script := func(round int) []*memcache.Request {
		k := func(s string) string { return s + "-" + strconv.Itoa(round) }
		return []*memcache.Request{
			store(memcache.CmdSet, k("a"), "hello", 42),
			get(k("a")),
			get(k("nope")),
			gets(k("a")),
			cas(k("a"), "x", 999999),
			store(memcache.CmdAdd, k("a"), "x", 0),
			store(memcache.CmdAppend, k("a"), " world", 0),
			noreply(set(k("q"), "quiet")),
			get(k("a"), k("q"), k("nope"), k("a")),
			set(k("n"), "10"),
			arith(memcache.CmdIncr, k("n"), 5),
			arith(memcache.CmdDecr, k("n"), 100),
			noreply(arith(memcache.CmdIncr, k("n"), 1)),
			get(k("n")),
			set(k("big"), big),
			get(k("big"), k("a")),
			keyed(memcache.CmdDelete, k("a")),
			keyed(memcache.CmdDelete, k("a")),
			get(k("a"), k("big")),
			{Cmd: memcache.CmdFlushAll},
			get(k("big")),
		}
	}
	c := dialFront(t, faed)
	// One at a time.
	for i, req := range script(0) {
		want, got := d.do(req), c.do(req)
		if !bytes.Equal(got, want) {
			t.Fatalf("step %d (%s %q): got %q, want %q", i, req.Cmd, req.Keys, trunc(got), trunc(want))
		}
	}
	// All in one write: the replies come back in order.
	reqs := script(1)
	var wire []byte
	for _, req := range reqs {
		wire = memcache.AppendRequest(wire, req)
	}
	go c.send(wire)
	for i, req := range reqs {
		want, got := d.do(req), c.reply(req)
		if !bytes.Equal(got, want) {
			t.Fatalf("pipelined step %d (%s %q): got %q, want %q", i, req.Cmd, req.Keys, trunc(got), trunc(want))
		}
	}
	if n := loopConns(t, p, viaPool); n < 1 {
		t.Errorf("%d loop connections on memcached: the requests did not take the loop transport", n)
	}
}

func trunc(b []byte) []byte {
	if len(b) > 200 {
		return append(b[:200:200], "…"...)
	}
	return b
}

// TestLoopOrderManyClients: clients on two loops pipeline writes and reads
// of their keys spread over three servers, so each loop's connections carry
// several clients' requests interleaved and multi-gets are split over
// servers; every client gets exactly its replies, in its order.
func TestLoopOrderManyClients(t *testing.T) {
	servers := []Server{{Addr: startMemcached(t)}, {Addr: startMemcached(t)}, {Addr: startMemcached(t)}}
	p := newPool(t, Config{Servers: servers})
	faed := loopFront(t, p, 2)

	const clients, rounds, keys = 8, 3, 6
	var wg sync.WaitGroup
	for cl := range clients {
		c := dialFront(t, faed)
		wg.Add(1)
		go func() {
			defer wg.Done()
			model := map[string]string{}
			for r := range rounds {
				var wire, want bytes.Buffer
				for j := range 200 {
					key := fmt.Sprintf("c%d-k%d", cl, j%keys)
					switch j % 5 {
					case 0, 2:
						v := fmt.Sprintf("v%d-%d-%d", cl, r, j)
						fmt.Fprintf(&wire, "set %s 0 0 %d\r\n%s\r\n", key, len(v), v)
						want.WriteString("STORED\r\n")
						model[key] = v
					case 1:
						fmt.Fprintf(&wire, "get %s\r\n", key)
						if v, ok := model[key]; ok {
							want.WriteString(value(key, v))
						}
						want.WriteString("END\r\n")
					case 3:
						fmt.Fprintf(&wire, "delete %s\r\n", key)
						if _, ok := model[key]; ok {
							want.WriteString("DELETED\r\n")
							delete(model, key)
						} else {
							want.WriteString("NOT_FOUND\r\n")
						}
					case 4:
						wire.WriteString("get")
						for k := range keys {
							key := fmt.Sprintf("c%d-k%d", cl, (j+k)%keys)
							wire.WriteString(" " + key)
							if v, ok := model[key]; ok {
								want.WriteString(value(key, v))
							}
						}
						wire.WriteString("\r\n")
						want.WriteString("END\r\n")
					}
				}
				go c.send(wire.Bytes())
				c.expect(want.String())
			}
		}()
	}
	wg.Wait()
	for _, s := range servers {
		if n := loopConns(t, p, s.Addr); n < 1 {
			t.Errorf("%s: %d loop connections: the requests did not take the loop transport", s.Addr, n)
		}
	}
}

// TestLoopHungServer: on the loop transport, a server that accepts and
// never answers costs its keys one Timeout, with the same error line as the
// goroutine transport; then they fail at once; the other server's keys are
// served meanwhile; the connection comes back when the server does.
func TestLoopHungServer(t *testing.T) {
	// Long enough that no scheduling stall on a busy machine passes for
	// it: the checks below tell "at once" from "after the timeout".
	const timeout = 2 * time.Second
	live, backend := startMemcached(t), startMemcached(t)
	var healthy atomic.Bool
	fake := startFake(t, func(nc net.Conn) {
		if healthy.Load() {
			relayTo(backend, healthy.Load)(nc)
			return
		}
		hang(nc)
	})
	p := newPool(t, Config{Servers: []Server{{Addr: live}, {Addr: fake.Addr()}}, Timeout: timeout, HealthInterval: 50 * time.Millisecond})
	faed := loopFront(t, p, 1) // one loop: both clients share its connections
	liveKey, badKeys := keysOn(p, 0, 1, "h")[0], keysOn(p, 1, 4, "h")

	slow, quick := dialFront(t, faed), dialFront(t, faed)
	start := time.Now()
	slow.send([]byte("get " + badKeys[0] + "\r\n"))
	if got := quick.do(get(liveKey)); string(got) != memcache.ReplyEnd {
		t.Fatalf("live server: %q", got)
	}
	if took := time.Since(start); took >= timeout {
		t.Errorf("the live server answered after %v: held up by the hung one", took)
	}
	slow.expect("SERVER_ERROR upstream " + fake.Addr() + " timeout\r\n")
	if took := time.Since(start); took < timeout {
		t.Errorf("hung server failed after %v, before its timeout of %v", took, timeout)
	}
	// Known bad now: its keys fail at once.
	for _, k := range badKeys[1:] {
		start := time.Now()
		if got := quick.do(get(k)); !isServerError(got) {
			t.Fatalf("get %s: %q, want SERVER_ERROR", k, got)
		}
		if took := time.Since(start); took >= timeout {
			t.Errorf("get %s took %v, its timeout; a server known bad must fail at once", k, took)
		}
	}
	if stat(p, "timeouts") == 0 {
		t.Error("timeouts not counted")
	}

	healthy.Store(true)
	fake.CloseConns()
	testproc.WaitFor(t, "the server to come back", func() bool {
		return string(quick.do(get(badKeys[0]))) == memcache.ReplyEnd
	})
	for _, k := range badKeys {
		if got := quick.do(set(k, "back")); string(got) != memcache.ReplyStored {
			t.Fatalf("set %s after recovery: %q", k, got)
		}
	}
}

// TestLoopReconnect: a server killed under the loop transport fails its
// keys fast with the goroutine transport's lines, and once it is back the
// loop's connection redials and serves again.
func TestLoopReconnect(t *testing.T) {
	m := startKillable(t)
	// A long Timeout, so that "fast" below is no matter of machine load.
	p := newPool(t, Config{Servers: []Server{{Addr: m.addr}}, Timeout: 10 * time.Second})
	faed := loopFront(t, p, 2)
	c := dialFront(t, faed)
	if got := c.do(set("k", "v")); string(got) != memcache.ReplyStored {
		t.Fatalf("set: %q", got)
	}
	m.kill()
	testproc.WaitFor(t, "the kill to be noticed", func() bool { return isServerError(c.do(get("k"))) })
	for range 3 {
		start := time.Now()
		got := string(c.do(get("k")))
		if !strings.HasPrefix(got, "SERVER_ERROR upstream "+m.addr+" ") {
			t.Fatalf("get with the server down: %q", got)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("get took %v with the server down; want it at once, not by the 10s timeout", took)
		}
	}
	m.start()
	testproc.WaitFor(t, "the loop connection to come back", func() bool {
		return string(c.do(set("k", "again"))) == memcache.ReplyStored
	})
	if got := c.do(get("k")); string(got) != hit("k", "again") {
		t.Fatalf("get after reconnect: %q", got)
	}
	if stat(p, "reconnects") == 0 {
		t.Error("reconnects not counted")
	}
}

// TestLoopCloseAnswersQueued: Close, with the front end still running,
// answers the requests waiting on the loops' connections with "pool
// closed", and requests after it fail at once.
func TestLoopCloseAnswersQueued(t *testing.T) {
	fake := startFake(t, hang)
	p, err := New(Config{Servers: []Server{{Addr: fake.Addr()}}, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	faed := loopFront(t, p, 2)
	var cs []*frontClient
	for i := range 4 {
		c := dialFront(t, faed)
		c.send([]byte("get k" + strconv.Itoa(i) + "\r\nset s 0 0 1\r\nx\r\n"))
		cs = append(cs, c)
	}
	// Wait until the requests reached the pool (no better signal: they
	// hang).
	testproc.WaitFor(t, "the requests to reach the pool", func() bool { return stat(p, "requests") == 8 })
	p.Close()
	line := "SERVER_ERROR upstream " + fake.Addr() + " pool closed\r\n"
	for _, c := range cs {
		c.expect(line + line)
		c.send([]byte("get after\r\n"))
		c.expect(line)
	}
}

// TestLoopZeroAllocs: in steady state a request through the front end and
// the loop transport allocates nothing, in the whole process, with or
// without breakers.
func TestLoopZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race")
	}
	brk := testBreaker
	for _, tc := range []struct {
		name string
		brk  *breaker.Config
	}{{"no breakers", nil}, {"breakers", &brk}} {
		t.Run(tc.name, func(t *testing.T) { testLoopZeroAllocs(t, tc.brk) })
	}
}

func testLoopZeroAllocs(t *testing.T, brk *breaker.Config) {
	p := newPool(t, Config{Servers: []Server{{Addr: startMemcached(t)}, {Addr: startMemcached(t)}}, Breaker: brk})
	faed := loopFront(t, p, 1)
	c := dialFront(t, faed)
	value := strings.Repeat("v", 100)
	var wire, want bytes.Buffer
	for i := range 16 {
		key := "za" + strconv.Itoa(i)
		fmt.Fprintf(&wire, "set %s 0 0 %d\r\n%s\r\nget %s\r\n", key, len(value), value, key)
		want.WriteString("STORED\r\n" + hit(key, value))
	}
	wire.WriteString("get za1 za2 za3 za4\r\n") // split over both servers
	want.WriteString(strings.TrimSuffix(hit("za1", value), "END\r\n") + strings.TrimSuffix(hit("za2", value), "END\r\n") +
		strings.TrimSuffix(hit("za3", value), "END\r\n") + hit("za4", value))
	buf := make([]byte, want.Len())
	round := func() {
		if _, err := c.nc.Write(wire.Bytes()); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c.br, buf); err != nil {
			t.Fatal(err)
		}
	}
	for range 200 { // warm up: buffers, pools, connections
		round()
	}
	if !bytes.Equal(buf, want.Bytes()) {
		t.Fatalf("got %q, want %q", buf, want.Bytes())
	}
	const rounds = 500
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range rounds {
		round()
	}
	runtime.ReadMemStats(&after)
	perReq := float64(after.Mallocs-before.Mallocs) / (rounds * 33)
	t.Logf("%.3f allocations per request", perReq)
	if perReq > 0.05 {
		t.Errorf("%.3f allocations per request, want 0", perReq)
	}
}
