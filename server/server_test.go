package server

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fae-sidecar/fae/internal/testproc"
	"github.com/fae-sidecar/fae/proto/memcache"
	"github.com/fae-sidecar/fae/upstream"
)

// gateHandler answers "get slow*" later, when the test releases it, and
// everything else at once with the key's name; it counts requests held.
type gateHandler struct {
	mu      sync.Mutex
	held    []held
	maxHeld int
	gets    atomic.Int64
}

type held struct {
	w     upstream.Waiter
	reply string
}

func (h *gateHandler) Serve(req *memcache.Request, out []byte, w upstream.Waiter) ([]byte, bool) {
	h.gets.Add(1)
	key := string(req.Key())
	reply := "VALUE " + key + " 0 1\r\nx\r\nEND\r\n"
	if req.Cmd == memcache.CmdFlushAll {
		reply = "OK\r\n"
	}
	if strings.HasPrefix(key, "slow") {
		h.mu.Lock()
		h.held = append(h.held, held{w: w, reply: reply})
		h.maxHeld = max(h.maxHeld, len(h.held))
		h.mu.Unlock()
		return out, true
	}
	return append(out, reply...), false
}

func (h *gateHandler) Stats(add func(string, uint64)) { add("cmd_get", uint64(h.gets.Load())) }

// release answers held requests, newest first, to finish out of order.
func (h *gateHandler) release() int {
	h.mu.Lock()
	hs := h.held
	h.held = nil
	h.mu.Unlock()
	for i := len(hs) - 1; i >= 0; i-- {
		hs[i].w.Done([]byte(hs[i].reply))
	}
	return len(hs)
}

func (h *gateHandler) heldCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.held)
}

func start(t testing.TB, cfg Config, h Handler) (addr string, stop func() error) {
	t.Helper()
	s, stop := startServer(t, cfg, h)
	return s.cfg.Addr, stop
}

// startServer runs a server for cfg on a free loopback port with two loops
// until the test ends or stop is called.
func startServer(t testing.TB, cfg Config, h Handler) (s *Server, stop func() error) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Addr = l.Addr().String()
	l.Close()
	cfg.Loops = 2
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	s = New(cfg, h)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.Run(ctx) }()
	select {
	case <-s.booted:
	case err := <-errc:
		t.Fatal(err)
	case <-time.After(10 * time.Second):
		t.Fatal("server did not boot")
	}
	var once sync.Once
	var runErr error
	stop = func() error {
		once.Do(func() { cancel(); runErr = <-errc })
		return runErr
	}
	t.Cleanup(func() { _ = stop() })
	return s, stop
}

func dial(t testing.TB, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	return c, bufio.NewReader(c)
}

func readN(t *testing.T, r *bufio.Reader, n int) string {
	t.Helper()
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		t.Fatalf("read %d bytes: %v (got %q)", n, err, buf)
	}
	return string(buf)
}

func value(key string) string { return "VALUE " + key + " 0 1\r\nx\r\nEND\r\n" }

// Replies leave in request order although upstream answers finish in
// reverse order and fast replies queue behind slow ones.
func TestRepliesInRequestOrder(t *testing.T) {
	h := &gateHandler{}
	addr, _ := start(t, Config{}, h)
	c, r := dial(t, addr)
	keys := []string{"a", "slow1", "b", "slow2", "c", "d"}
	var req, want strings.Builder
	for _, k := range keys {
		req.WriteString("get " + k + "\r\n")
		want.WriteString(value(k))
	}
	// One command split over two writes, the rest pipelined in one.
	s := req.String()
	if _, err := c.Write([]byte(s[:3])); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte(s[3:])); err != nil {
		t.Fatal(err)
	}
	if got := readN(t, r, len(value("a"))); got != value("a") {
		t.Fatalf("first reply %q", got)
	}
	testproc.WaitFor(t, "2 held requests", func() bool { return h.heldCount() == 2 })
	h.release()
	if got := readN(t, r, len(want.String())-len(value("a"))); got != want.String()[len(value("a")):] {
		t.Errorf("got %q", got)
	}
}

// A connection with MaxInflight requests upstream is not parsed further
// until they finish; nothing is lost and order holds.
func TestBackpressureMaxInflight(t *testing.T) {
	h := &gateHandler{}
	addr, _ := start(t, Config{MaxInflight: 4}, h)
	c, r := dial(t, addr)
	var req, want strings.Builder
	for i := 0; i < 40; i++ {
		k := fmt.Sprintf("slow%d", i)
		req.WriteString("get " + k + "\r\n")
		want.WriteString(value(k))
	}
	if _, err := c.Write([]byte(req.String())); err != nil {
		t.Fatal(err)
	}
	done := make(chan string)
	go func() {
		buf := make([]byte, want.Len())
		_, _ = io.ReadFull(r, buf)
		done <- string(buf)
	}()
	released := 0
	for released < 40 {
		testproc.WaitFor(t, "held requests", func() bool { return h.heldCount() > 0 })
		released += h.release()
	}
	if got := <-done; got != want.String() {
		t.Errorf("got %q", got)
	}
	if h.maxHeld > 4 {
		t.Errorf("%d requests held at once, limit 4", h.maxHeld)
	}
}

// SIGTERM-style shutdown answers requests in flight before closing.
func TestGracefulShutdownFinishesInflight(t *testing.T) {
	h := &gateHandler{}
	addr, stop := start(t, Config{}, h)
	c, r := dial(t, addr)
	if _, err := c.Write([]byte("get slow\r\n")); err != nil {
		t.Fatal(err)
	}
	testproc.WaitFor(t, "held request", func() bool { return h.heldCount() == 1 })
	errc := make(chan error, 1)
	go func() { errc <- stop() }()
	// Let shutdown begin (it refuses new connections) before releasing.
	testproc.WaitFor(t, "refusal of new connections", func() bool {
		c2, err := net.Dial("tcp", addr)
		if err != nil {
			return true
		}
		defer c2.Close()
		_ = c2.SetReadDeadline(time.Now().Add(time.Second))
		_, err = c2.Read(make([]byte, 1))
		return err != nil
	})
	h.release()
	if got := readN(t, r, len(value("slow"))); got != value("slow") {
		t.Errorf("got %q", got)
	}
	if err := <-errc; err != nil {
		t.Errorf("Run: %v", err)
	}
}

func TestMaxConns(t *testing.T) {
	addr, _ := start(t, Config{MaxConns: 1}, &gateHandler{})
	c1, r1 := dial(t, addr)
	if _, err := c1.Write([]byte("get a\r\n")); err != nil {
		t.Fatal(err)
	}
	readN(t, r1, len(value("a")))
	_, r2 := dial(t, addr)
	line, _ := r2.ReadString('\n')
	if line != "ERROR Too many open connections\r\n" {
		t.Errorf("got %q", line)
	}
	if _, err := r2.ReadByte(); err == nil {
		t.Error("over-limit connection left open")
	}
}

func TestIdleTimeout(t *testing.T) {
	addr, _ := start(t, Config{IdleTimeout: 200 * time.Millisecond}, &gateHandler{})
	_, r := dial(t, addr)
	if _, err := r.ReadByte(); err != io.EOF {
		t.Errorf("idle connection: got %v, want EOF", err)
	}
}

func TestServerCommands(t *testing.T) {
	addr, _ := start(t, Config{Version: "1.6.18"}, &gateHandler{})
	c, r := dial(t, addr)
	for _, tc := range []struct{ name, req, want string }{
		{name: "version", req: "version\r\n", want: "VERSION 1.6.18\r\n"},
		{name: "verbosity", req: "verbosity 1\r\n", want: "OK\r\n"},
		{name: "verbosity noreply", req: "verbosity 1 noreply\r\nversion\r\n", want: "VERSION 1.6.18\r\n"},
		{name: "stats reset", req: "stats reset\r\n", want: "RESET\r\n"},
		{name: "stats unknown", req: "stats nonsense\r\n", want: "ERROR\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := c.Write([]byte(tc.req)); err != nil {
				t.Fatal(err)
			}
			if got := readN(t, r, len(tc.want)); got != tc.want {
				t.Errorf("got %q", got)
			}
		})
	}
	t.Run("stats", func(t *testing.T) {
		if _, err := c.Write([]byte("stats\r\n")); err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			if line == "END\r\n" {
				break
			}
			f := strings.Fields(line)
			if len(f) != 3 || f[0] != "STAT" {
				t.Fatalf("bad stats line %q", line)
			}
			seen[f[1]] = true
		}
		for _, n := range []string{"pid", "uptime", "time", "version", "curr_connections", "total_connections", "cmd_get", "bytes_read", "bytes_written", "threads"} {
			if !seen[n] {
				t.Errorf("stats lacks %s", n)
			}
		}
	})
	t.Run("quit", func(t *testing.T) {
		if _, err := c.Write([]byte("quit\r\n")); err != nil {
			t.Fatal(err)
		}
		if _, err := r.ReadByte(); err != io.EOF {
			t.Errorf("after quit: %v", err)
		}
	})
}

func TestLoopCount(t *testing.T) {
	for _, tc := range []struct{ loops, cpus, want int }{
		{0, 1, 1}, {0, 2, 1}, {0, 3, 1}, {0, 8, 4}, {3, 2, 3}, {1, 64, 1},
	} {
		if got := LoopCount(tc.loops, tc.cpus); got != tc.want {
			t.Errorf("LoopCount(%d, %d) = %d, want %d", tc.loops, tc.cpus, got, tc.want)
		}
	}
}

// Each loop accepts on its own listener (SO_REUSEPORT): connections reach
// every loop and are served, and a second server on the same address is
// refused rather than sharing the port.
func TestListenersPerLoop(t *testing.T) {
	s, _ := startServer(t, Config{}, &gateHandler{})
	for i := range 32 {
		c, r := dial(t, s.cfg.Addr)
		if _, err := c.Write([]byte("get a\r\n")); err != nil {
			t.Fatal(err)
		}
		if got := readN(t, r, len(value("a"))); got != value("a") {
			t.Fatalf("connection %d: %q", i, got)
		}
	}
	// The kernel spreads connections over the listeners by their
	// addresses: 32 on one loop of two is a chance of 2^-31.
	if ls := s.loops.Load(); ls == nil || len(*ls) != 2 {
		t.Errorf("connections reached %d loops, want 2", len(*s.loops.Load()))
	}
	second := New(Config{Addr: s.cfg.Addr, Loops: 2, Logger: s.cfg.Logger}, &gateHandler{})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := second.Run(ctx); err == nil || ctx.Err() != nil {
		t.Errorf("a second server on %s: %v, want refused at once", s.cfg.Addr, err)
	}
}

// A port 0 becomes one port that every loop listens on; a free port stays
// as it is; a port in use is refused.
func TestClaim(t *testing.T) {
	got, err := claim("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if host, port, err := net.SplitHostPort(got); err != nil || host != "127.0.0.1" || port == "0" {
		t.Errorf("claim of port 0: %q, %v", got, err)
	}
	if again, err := claim(got); again != got || err != nil {
		t.Errorf("claim(%q) = %q, %v; want it as it is", got, again, err)
	}
	l, err := net.Listen("tcp", got)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := claim(got); err == nil {
		t.Errorf("claim of a port in use: no error")
	}
}
