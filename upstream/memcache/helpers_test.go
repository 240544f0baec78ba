package memcache

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fae-sidecar/fae/internal/testproc"
	"github.com/fae-sidecar/fae/proto/memcache"
)

const memcachedBin = "/usr/bin/memcached"

// startMemcached starts a memcached on a free loopback port, waits until it
// accepts connections and stops it when the test ends.
func startMemcached(t testing.TB) string {
	t.Helper()
	for try := 0; ; try++ {
		addr := freeAddr(t)
		cmd, exited, ok := launchMemcached(t, addr)
		if ok {
			t.Cleanup(func() {
				cmd.Process.Kill()
				<-exited
			})
			return addr
		}
		if try == 4 {
			t.Fatalf("memcached exited before accepting connections, 5 times")
		}
	}
}

// launchMemcached runs memcached on addr and waits until it accepts
// connections. It reports false, the process reaped, when memcached exited
// first: another process may take the port between freeAddr releasing it
// and memcached binding it, so callers try another address.
func launchMemcached(t testing.TB, addr string) (*exec.Cmd, chan struct{}, bool) {
	t.Helper()
	if _, err := os.Stat(memcachedBin); err != nil {
		t.Fatalf("%s is needed by these tests: apt-get install memcached (%v)", memcachedBin, err)
	}
	host, port, _ := net.SplitHostPort(addr)
	args := []string{"-U", "0", "-l", host, "-p", port}
	if os.Geteuid() == 0 {
		args = append(args, "-u", "nobody") // memcached refuses to run as root
	}
	cmd := exec.Command(memcachedBin, args...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start memcached: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	up := false
	testproc.WaitFor(t, "memcached on "+addr, func() bool {
		select {
		case <-exited:
			return true
		default:
		}
		nc, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			nc.Close()
			up = true
		}
		return up
	})
	if !up {
		return nil, nil, false
	}
	return cmd, exited, true
}

// freeAddr returns a loopback address nobody listens on (for now).
func freeAddr(t testing.TB) string {
	t.Helper()
	return testproc.FreePort(t)
}

// newPool builds a pool and closes it when the test ends. Tests that are not
// about timeouts get a generous one: a loaded CI machine can stall a fresh
// memcached for longer than the default.
func newPool(t testing.TB, cfg Config) *Pool {
	t.Helper()
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// recorder is a Waiter that checks the contract: Done exactly once, never
// from within Serve (on the goroutine that called Serve, while it runs).
type recorder struct {
	t       testing.TB
	serving atomic.Int64 // id of the goroutine inside Serve, or 0
	calls   atomic.Int32
	ch      chan []byte
}

func newRecorder(t testing.TB) *recorder {
	return &recorder{t: t, ch: make(chan []byte, 2)}
}

func (r *recorder) Done(reply []byte) {
	if id := r.serving.Load(); id != 0 && id == goid() {
		r.t.Errorf("Done called from within Serve")
	}
	if n := r.calls.Add(1); n > 1 {
		r.t.Errorf("Done called %d times; reply %q", n, reply)
		return
	}
	r.ch <- bytes.Clone(reply)
}

// reply waits for r's reply; what names the request if none comes.
func (r *recorder) reply(what string) []byte {
	r.t.Helper()
	select {
	case got := <-r.ch:
		return got
	case <-time.After(10 * time.Second):
		r.t.Fatalf("no reply to %s", what)
		return nil
	}
}

// call serves req and returns its reply, whether it came synchronously, and
// how long it took.
func call(t testing.TB, p *Pool, req *memcache.Request) (reply []byte, async bool, took time.Duration) {
	t.Helper()
	r := newRecorder(t)
	start := time.Now()
	r.serving.Store(goid())
	out, async := p.Serve(req, []byte{}, r)
	r.serving.Store(0)
	if !async {
		return out, false, time.Since(start)
	}
	if len(out) != 0 {
		t.Errorf("Serve appended %q and went async", out)
	}
	select {
	case reply = <-r.ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("no reply to %s %q", req.Cmd, req.Keys)
	}
	return reply, true, time.Since(start)
}

// goid returns the calling goroutine's id, parsed from its stack header
// ("goroutine 42 [running]:"). For contract checks in tests only.
func goid() int64 {
	var buf [32]byte
	n := runtime.Stack(buf[:], false)
	b := bytes.TrimPrefix(buf[:n], []byte("goroutine "))
	id, _ := strconv.ParseInt(string(b[:bytes.IndexByte(b, ' ')]), 10, 64)
	return id
}

// do serves req and returns its reply.
func do(t testing.TB, p *Pool, req *memcache.Request) []byte {
	t.Helper()
	reply, _, _ := call(t, p, req)
	return reply
}

// direct talks to one memcached with no pool in between. Each request is
// followed by "mn" (meta no-op), whose "MN\r\n" marks where the reply ends
// without parsing it: the replies it reads are memcached's, framed
// independently of the code under test.
type direct struct{ testConn }

func dialDirect(t testing.TB, addr string) *direct {
	t.Helper()
	return &direct{dialTest(t, addr, 4096)}
}

// testConn is a test's connection to a server, read through br (of the
// size dialTest was given).
type testConn struct {
	t  testing.TB
	nc net.Conn
	br *bufio.Reader
}

// dialTest connects to addr, failing t if it cannot; the connection is
// closed when the test ends.
func dialTest(t testing.TB, addr string, bufSize int) testConn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return testConn{t: t, nc: nc, br: bufio.NewReaderSize(nc, bufSize)}
}

func (d *direct) do(req *memcache.Request) []byte {
	return d.raw(memcache.AppendRequest(nil, req))
}

func (d *direct) raw(wire []byte) []byte {
	d.t.Helper()
	d.nc.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := d.nc.Write(append(wire, "mn\r\n"...)); err != nil {
		d.t.Fatal(err)
	}
	var got []byte
	for !bytes.HasSuffix(got, []byte("MN\r\n")) {
		line, err := d.br.ReadSlice('\n')
		if err != nil && err != bufio.ErrBufferFull {
			d.t.Fatalf("direct read: %v (have %q)", err, got)
		}
		got = append(got, line...)
	}
	return got[:len(got)-4]
}

// checkValidate checks that cfg.Validate accepts cfg if wantErr is empty,
// else refuses it with an error that contains wantErr (the field's path).
func checkValidate(t *testing.T, cfg Config, wantErr string) {
	t.Helper()
	err := cfg.Validate()
	switch {
	case wantErr == "" && err != nil:
		t.Fatalf("refused: %v", err)
	case wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)):
		t.Fatalf("error %v, want one naming %q", err, wantErr)
	}
}

// Request builders.

func get(keys ...string) *memcache.Request  { return retrieval(memcache.CmdGet, 0, keys) }
func gets(keys ...string) *memcache.Request { return retrieval(memcache.CmdGets, 0, keys) }

func retrieval(cmd memcache.Command, exptime int64, keys []string) *memcache.Request {
	r := &memcache.Request{Cmd: cmd, Exptime: exptime}
	for _, k := range keys {
		r.Keys = append(r.Keys, []byte(k))
	}
	return r
}

func store(cmd memcache.Command, key, value string, flags uint32) *memcache.Request {
	return &memcache.Request{Cmd: cmd, Keys: [][]byte{[]byte(key)}, Data: []byte(value), Flags: flags}
}

func set(key, value string) *memcache.Request { return store(memcache.CmdSet, key, value, 0) }

func keyed(cmd memcache.Command, key string) *memcache.Request {
	return &memcache.Request{Cmd: cmd, Keys: [][]byte{[]byte(key)}}
}

func noreply(r *memcache.Request) *memcache.Request {
	r.NoReply = true
	return r
}

// keysOn returns n keys that the pool places on server i.
func keysOn(p *Pool, i, n int, prefix string) []string {
	var keys []string
	for j := 0; len(keys) < n; j++ {
		k := prefix + strconv.Itoa(j)
		if p.pick.Pick([]byte(k)) == i {
			keys = append(keys, k)
		}
	}
	return keys
}

// startFake starts a server that misbehaves: it accepts and then does what
// handle says with each connection. It stops when the test ends.
func startFake(t testing.TB, handle func(nc net.Conn)) *testproc.Fake {
	t.Helper()
	return testproc.StartFake(t, net.ListenConfig{}, handle)
}

// hang reads and discards everything, answering nothing.
func hang(nc net.Conn) { io.Copy(io.Discard, nc) }

// relayTo returns a handler that forwards a connection to addr while
// healthy() holds, and hangs otherwise (decided per connection).
func relayTo(addr string, healthy func() bool) func(net.Conn) {
	return func(nc net.Conn) {
		if !healthy() {
			hang(nc)
			return
		}
		up, err := net.Dial("tcp", addr)
		if err != nil {
			nc.Close()
			return
		}
		done := make(chan struct{})
		go func() { io.Copy(up, nc); up.Close(); close(done) }()
		io.Copy(nc, up)
		nc.Close()
		<-done
	}
}
