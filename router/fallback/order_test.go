package fallback

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/fae-sidecar/fae/internal/testproc"
	"github.com/fae-sidecar/fae/proto/memcache"
	mc "github.com/fae-sidecar/fae/upstream/memcache"
)

// seen is a request line a scripted server read, and its connection.
type seen struct {
	line string
	conn net.Conn
}

// silentServer accepts connections and reads requests without ever
// answering; each request line goes to the returned channel.
func silentServer(t *testing.T) (string, <-chan seen) {
	ch := make(chan seen, 64)
	addr := testproc.ServeTCP(t, func(c net.Conn) {
		r := bufio.NewReader(c)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			if strings.HasPrefix(line, "set ") {
				ch <- seen{strings.TrimSpace(line), c}
				if _, err := r.ReadString('\n'); err != nil { // the data block
					return
				}
			}
		}
	})
	return addr, ch
}

// connOf is the pool's choice among a server's n connections (FNV-1a).
func connOf(key string, n int) int {
	h := uint32(2166136261)
	for _, c := range []byte(key) {
		h ^= uint32(c)
		h *= 16777619
	}
	return int(h % uint32(n))
}

// A write already on its way to the server when the server's spool
// starts keeps its place before a later write of its key: the later one
// follows it to the server instead of going to the spool, and when both
// fail they are applied in order.
func TestWriteInFlightKeepsItsOrder(t *testing.T) {
	addr, got := silentServer(t)
	next, err := mc.New(mc.Config{Servers: []mc.Server{{Addr: addr}}, Transport: mc.TransportGoroutine,
		ConnsPerServer: 2, Timeout: time.Minute, HealthInterval: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	p := New(next, Config{Pool: "test", Path: t.TempDir() + "/test.db", MinBackoff: time.Hour, MaxBackoff: time.Hour})
	t.Cleanup(func() { p.Close() })
	other := "other"
	for connOf(other, 2) == connOf("k", 2) {
		other += "x"
	}
	async := func(request string) waiter {
		t.Helper()
		var req memcache.Request
		var parser memcache.Parser
		if _, err := parser.Parse([]byte(request), &req); err != nil {
			t.Fatal(err)
		}
		w := make(waiter, 1)
		if out, async := p.Serve(&req, nil, w); !async {
			w <- out
		}
		return w
	}
	reply := func(w waiter) string {
		select {
		case r := <-w:
			return string(r)
		case <-time.After(30 * time.Second):
			t.Fatal("no reply")
			return ""
		}
	}
	expect := func(line string) net.Conn {
		for {
			var s seen
			select {
			case s = <-got:
			case <-time.After(10 * time.Second):
				t.Fatalf("the server never read %q", line)
			}
			if s.line == line {
				return s.conn
			}
			if !strings.HasPrefix(s.line, "set "+other+" ") { // (the replayer sends other again)
				t.Fatalf("server read %q, want %q", s.line, line)
			}
		}
	}
	wOther := async("set " + other + " 0 0 1\r\nO\r\n")
	connA := expect("set " + other + " 0 0 1")
	w1 := async("set k 0 0 2\r\nv1\r\n")
	connB := expect("set k 0 0 2")
	connA.Close() // other fails: spooled, the server's spool is not empty
	if r := reply(wOther); r != "STORED\r\n" {
		t.Fatalf("set %s: %q", other, r)
	}
	w2 := async("set k 0 0 2\r\nv2\r\n")
	expect("set k 0 0 2") // v2 follows v1 to the server
	connB.Close()
	if r1, r2 := reply(w1), reply(w2); r1 != "STORED\r\n" || r2 != "STORED\r\n" {
		t.Fatalf("set k v1: %q, v2: %q", r1, r2)
	}
	if r := serve(t, p, "get k\r\n"); r != "VALUE k 0 2\r\nv2\r\nEND\r\n" {
		t.Errorf("get k: %q, want v2", r)
	}
	entries, err := p.sp.Load().Entries(addr)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(entries); n != 2 || !strings.HasSuffix(string(entries[1].Request), "\r\nv2\r\n") {
		t.Errorf("spool holds %d entries, the last %q; want 2, the last v2's", n, entries[n-1].Request)
	}
}
