package fallback

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fae-sidecar/fae/internal/testproc"
	"github.com/fae-sidecar/fae/proto/memcache"
	mc "github.com/fae-sidecar/fae/upstream/memcache"
)

// waiter is a Waiter for requests served off any loop.
type waiter chan []byte

func (w waiter) Done(reply []byte) { w <- append([]byte(nil), reply...) }

// serve parses one request and returns the pool's reply, waiting for it
// when the pool answers later.
func serve(t *testing.T, p *Pool, request string) string {
	t.Helper()
	var req memcache.Request
	var parser memcache.Parser
	if _, err := parser.Parse([]byte(request), &req); err != nil {
		t.Fatalf("%q: %v", request, err)
	}
	w := make(waiter, 1)
	out, async := p.Serve(&req, nil, w)
	if !async {
		return string(out)
	}
	select {
	case r := <-w:
		return string(r)
	case <-time.After(30 * time.Second):
		t.Fatalf("%q: no reply", request)
		return ""
	}
}

// newPool is a fallback over a memcache pool of servers, spooling to path.
func newPool(t *testing.T, path string, servers ...string) *Pool {
	t.Helper()
	cfg := mc.Config{Timeout: 300 * time.Millisecond, Transport: mc.TransportGoroutine}
	for _, s := range servers {
		cfg.Servers = append(cfg.Servers, mc.Server{Addr: s})
	}
	next, err := mc.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := New(next, Config{Pool: "test", Path: path, MinBackoff: time.Millisecond, MaxBackoff: 20 * time.Millisecond})
	t.Cleanup(func() { p.Close() })
	return p
}

// stat returns one of the pool's stats.
func stat(p *Pool, name string) uint64 {
	var v uint64
	p.Stats(func(n string, x uint64) {
		if n == name {
			v = x
		}
	})
	return v
}

// direct sends request to a memcached and reads lines up to and including
// one that starts with one of ends.
func direct(t *testing.T, addr, request string, ends ...string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte(request)); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	var got strings.Builder
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("%q: %v (read %q)", request, err, got.String())
		}
		got.WriteString(line)
		for _, e := range ends {
			if strings.HasPrefix(line, e) {
				return got.String()
			}
		}
	}
}

// What a client sees of a pool whose only server is down, then what the
// server holds once it is back: each step runs on the state the earlier
// ones left.
func TestOutageAndReplay(t *testing.T) {
	addr := testproc.FreePort(t) // nothing listens here yet
	p := newPool(t, filepath.Join(t.TempDir(), "spool", "test.db"), addr)
	steps := []struct{ req, want string }{
		{"set a 0 0 1\r\nA\r\n", "STORED\r\n"},
		{"get a\r\n", "VALUE a 0 1\r\nA\r\nEND\r\n"},
		{"append a 0 0 1\r\nB\r\n", "STORED\r\n"}, // a is pending: served by the store
		{"set n 0 0 1\r\n5\r\n", "STORED\r\n"},
		{"incr n 3\r\n", "8\r\n"},
		// Conditional writes of keys only the server knows are refused.
		{"add x 0 0 1\r\nX\r\n", "SERVER_ERROR upstream " + addr},
		{"incr y 1\r\n", "SERVER_ERROR upstream " + addr},
		// An unconditional delete is spooled.
		{"delete d\r\n", "DELETED\r\n"},
		{"set q 0 0 1 noreply\r\nQ\r\n", ""},
		{"get q\r\n", "VALUE q 0 1\r\nQ\r\nEND\r\n"},
		{"ms m 2 T0\r\nMM\r\n", "HD\r\n"},
		{"set e 7 3600 1\r\nE\r\n", "STORED\r\n"},
		// A multi-get mixing pending keys and a key of the down server.
		{"get a zz n\r\n", "VALUE a 0 2\r\nAB\r\nVALUE n 0 1\r\n8\r\nEND\r\n"},
		// Meta commands, as the binary protocol sends them too.
		{"md dm\r\n", "HD\r\n"},
		{"ma n\r\n", "HD\r\n"},
		{"mg n v\r\n", "VA 1\r\n9\r\n"},
		{"mg zz v\r\n", "SERVER_ERROR upstream " + addr},
		{"delete q noreply\r\n", ""},
		{"get q\r\n", "END\r\n"},
	}
	for _, s := range steps {
		if got := serve(t, p, s.req); !strings.HasPrefix(got, s.want) || s.want == "" && got != "" {
			t.Errorf("%q: got %q, want %q", s.req, got, s.want)
		}
	}
	// The spool holds each key's last state; e's exptime is absolute.
	sp := p.sp.Load()
	entries, err := sp.Entries(addr)
	if err != nil {
		t.Fatal(err)
	}
	byKey := map[string]string{}
	for _, e := range entries {
		byKey[string(e.Key)] = string(e.Request)
	}
	if len(entries) != 7 {
		t.Errorf("spool holds %d entries, want 7 (a n d q m e dm): %q", len(entries), byKey)
	}
	f := strings.Fields(byKey["e"])
	if len(f) < 5 {
		t.Fatalf("entry of e: %q", byKey["e"])
	}
	if exp, _ := strconv.ParseInt(f[3], 10, 64); exp < time.Now().Unix()+3500 || exp > time.Now().Unix()+3700 {
		t.Errorf("entry of e has exptime %d, want about now+3600 as a Unix time", exp)
	}
	if got := stat(p, "spool_pending"); got != 7 {
		t.Errorf("spool_pending %d, want 7", got)
	}
	if got := stat(p, "spool_appended"); got != 11 {
		t.Errorf("spool_appended %d, want 11", got)
	}

	// The server comes back, empty.
	testproc.StartMemcachedAt(t, addr)
	testproc.WaitFor(t, "the spool to drain", func() bool { return stat(p, "spool_pending") == 0 })
	testproc.WaitFor(t, "local copies to go", func() bool { return p.pending.Load() == 0 })
	want := "VALUE a 0 2\r\nAB\r\nVALUE n 0 1\r\n9\r\nVALUE m 0 2\r\nMM\r\nVALUE e 7 1\r\nE\r\nEND\r\n"
	if got := direct(t, addr, "get a n q m e d dm\r\n", "END"); got != want {
		t.Errorf("memcached holds %q, want %q", got, want)
	}
	if got := stat(p, "spool_replayed"); got != 7 {
		t.Errorf("spool_replayed %d, want 7", got)
	}
	// Reads go to the server again, writes too.
	if got := serve(t, p, "set a 0 0 1\r\nZ\r\n"); got != "STORED\r\n" {
		t.Errorf("set after the outage: %q", got)
	}
	// (The pool may not have reconnected yet: then the set is spooled and
	// replayed.)
	testproc.WaitFor(t, "the spool to drain", func() bool { return stat(p, "spool_pending") == 0 })
	if got := direct(t, addr, "get a\r\n", "END"); got != "VALUE a 0 1\r\nZ\r\nEND\r\n" {
		t.Errorf("memcached after a set through the pool: %q", got)
	}
}

// A spool that cannot be created answers SERVER_ERROR and keeps nothing.
func TestSpoolUnwritable(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "file"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	addr := testproc.FreePort(t)
	p := newPool(t, filepath.Join(dir, "file", "spool", "test.db"), addr)
	for _, req := range []string{"set a 0 0 1\r\nA\r\n", "delete a\r\n", "set a 0 0 1\r\nA\r\n"} {
		if got := serve(t, p, req); !strings.HasPrefix(got, "SERVER_ERROR") {
			t.Errorf("%q: %q, want SERVER_ERROR", req, got)
		}
	}
	if got := serve(t, p, "get a\r\n"); !strings.HasPrefix(got, "SERVER_ERROR upstream") {
		t.Errorf("get a: %q: nothing of a refused write may be read", got)
	}
	if got := stat(p, "spool_errors"); got != 3 {
		t.Errorf("spool_errors %d, want 3", got)
	}
}

// A pool closed with writes spooled and opened again serves them from its
// store and replays them.
func TestReopen(t *testing.T) {
	addr := testproc.FreePort(t)
	path := filepath.Join(t.TempDir(), "test.db")
	p := newPool(t, path, addr)
	for i := range 10 {
		req := fmt.Sprintf("set k%d 0 0 2\r\nv%d\r\n", i, i)
		if got := serve(t, p, req); got != "STORED\r\n" {
			t.Fatalf("%q: %q", req, got)
		}
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	p = newPool(t, path, addr)
	if got := serve(t, p, "get k3\r\n"); got != "VALUE k3 0 2\r\nv3\r\nEND\r\n" {
		t.Errorf("get k3 after reopening: %q", got)
	}
	if got := serve(t, p, "incr k4 0\r\n"); got != "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n" {
		t.Errorf("incr of a spooled key after reopening: %q (the store must hold it)", got)
	}
	testproc.StartMemcachedAt(t, addr)
	testproc.WaitFor(t, "the spool to drain", func() bool { return stat(p, "spool_pending") == 0 })
	if got := direct(t, addr, "get k0 k9\r\n", "END"); got != "VALUE k0 0 2\r\nv0\r\nVALUE k9 0 2\r\nv9\r\nEND\r\n" {
		t.Errorf("memcached after the replay: %q", got)
	}
}
