package server

import (
	"bufio"
	"context"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fae-sidecar/fae/proto/memcache"
	"github.com/fae-sidecar/fae/upstream"
)

// The unix listener serves the same protocols as the TCP one, with the
// socket file's mode as configured; the file goes when the server stops.
func TestUnixListener(t *testing.T) {
	path := filepath.Join(t.TempDir(), "faed.sock")
	s, stop := startServer(t, Config{Unix: path, UnixMode: 0o600}, &gateHandler{})
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&fs.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket file mode %v, want a socket with 0600", fi.Mode())
	}
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	r := bufio.NewReader(c)
	// Text, then a binary connection on the same socket.
	if _, err := c.Write([]byte("get a\r\nversion\r\n")); err != nil {
		t.Fatal(err)
	}
	if got := readN(t, r, len(value("a"))+len("VERSION 0.0.0\r\n")); got != value("a")+"VERSION 0.0.0\r\n" {
		t.Errorf("over the unix socket: %q", got)
	}
	bc, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer bc.Close()
	_ = bc.SetDeadline(time.Now().Add(20 * time.Second))
	noop := []byte{0x80, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0}
	if _, err := bc.Write(noop); err != nil {
		t.Fatal(err)
	}
	resp := readN(t, bufio.NewReader(bc), 24)
	if resp[0] != 0x81 || resp[1] != 0x0a || resp[15] != 7 {
		t.Errorf("binary noop over the unix socket: % x", resp)
	}
	var conns uint64
	s.Stats(func(name string, v uint64) {
		if name == "curr_connections" {
			conns = v
		}
	})
	if conns != 2 {
		t.Errorf("curr_connections %d, want 2", conns)
	}
	c.Close()
	bc.Close()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket file after stop: %v, want it gone", err)
	}
}

// Barrier returns only once the loops have finished the event in which a
// request was being handed to the handler.
func TestBarrier(t *testing.T) {
	h := &blockHandler{entered: make(chan struct{}), release: make(chan struct{})}
	s, _ := startServer(t, Config{}, h)
	c, _ := dial(t, s.cfg.Addr)
	if _, err := c.Write([]byte("get a\r\n")); err != nil {
		t.Fatal(err)
	}
	<-h.entered // a loop is inside Serve
	var returned atomic.Bool
	done := make(chan error, 1)
	go func() {
		err := s.Barrier(context.Background())
		returned.Store(true)
		done <- err
	}()
	// The barrier cannot pass the loop while Serve runs; whether it would
	// have returned by now without the block is what release decides.
	select {
	case err := <-done:
		t.Fatalf("Barrier returned (%v) while a loop was inside Serve", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(h.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// blockHandler blocks the loop in Serve until released, once.
type blockHandler struct {
	entered, release chan struct{}
	n                atomic.Int32
}

func (h *blockHandler) Serve(req *memcache.Request, out []byte, w upstream.Waiter) ([]byte, bool) {
	if h.n.Add(1) == 1 {
		close(h.entered)
		<-h.release
	}
	return append(out, memcache.ReplyEnd...), false
}

func (h *blockHandler) Stats(func(string, uint64)) {}

// The verbosity command reaches Config.Verbosity with its level.
func TestVerbosityHook(t *testing.T) {
	var got atomic.Int64
	got.Store(-1)
	addr, _ := start(t, Config{Verbosity: func(l uint32) { got.Store(int64(l)) }}, &gateHandler{})
	c, r := dial(t, addr)
	if _, err := c.Write([]byte("verbosity 2\r\n")); err != nil {
		t.Fatal(err)
	}
	if s := readN(t, r, 4); s != "OK\r\n" || got.Load() != 2 {
		t.Errorf("verbosity 2: %q, hook saw %d", s, got.Load())
	}
	// The binary protocol's verbosity (opcode 0x1b, the level in 4 bytes
	// of extras) too.
	bc, br := dial(t, addr)
	req := []byte{0x80, 0x1b, 0, 0, 4, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}
	if _, err := bc.Write(req); err != nil {
		t.Fatal(err)
	}
	if s := readN(t, br, 24); s[0] != 0x81 || s[1] != 0x1b || s[7] != 0 || got.Load() != 1 {
		t.Errorf("binary verbosity 1: %x, hook saw %d", s, got.Load())
	}
}

// SetLimits changes max_conns for the next connection and what "stats
// settings" says; open connections stay.
func TestSetLimits(t *testing.T) {
	s, _ := startServer(t, Config{}, &gateHandler{})
	a, ra := dial(t, s.cfg.Addr)
	// a is counted once the server answered it: only then is the next
	// connection the second.
	if _, err := a.Write([]byte("version\r\n")); err != nil {
		t.Fatal(err)
	}
	if line, err := ra.ReadString('\n'); err != nil || !strings.HasPrefix(line, "VERSION ") {
		t.Fatalf("version: %q, %v", line, err)
	}
	s.SetLimits(Limits{MaxConns: 1, IdleTimeout: 30 * time.Second})
	b, rb := dial(t, s.cfg.Addr)
	if got := readN(t, rb, len("ERROR Too many open connections\r\n")); got != "ERROR Too many open connections\r\n" {
		t.Errorf("a second connection over max_conns 1: %q", got)
	}
	b.Close()
	if _, err := a.Write([]byte("stats settings\r\n")); err != nil {
		t.Fatal(err)
	}
	var settings string
	for !strings.HasSuffix(settings, "END\r\n") {
		line, err := ra.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		settings += line
	}
	if !strings.Contains(settings, "STAT maxconns 1\r\n") || !strings.Contains(settings, "STAT idle_timeout 30\r\n") {
		t.Errorf("stats settings after SetLimits:\n%s", settings)
	}
	s.SetLimits(Limits{}) // the defaults again
	c, rc := dial(t, s.cfg.Addr)
	if _, err := c.Write([]byte("get a\r\n")); err != nil {
		t.Fatal(err)
	}
	if got := readN(t, rc, len(value("a"))); got != value("a") {
		t.Errorf("after the limit was raised: %q", got)
	}
}
