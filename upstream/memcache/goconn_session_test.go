package memcache

import (
	"bytes"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fae-sidecar/fae/proto/memcache"
)

// stallRelay forwards each connection to a memcached, and can stop
// reading what the pool sends (as a stalled server does: the pool's
// writes block once the socket buffers are full) and reset the pool's
// connection. Its sockets have a small receive buffer (see smallSendBuffer).
type stallRelay struct {
	*fakeServer
	mu        sync.Mutex
	resumed   *sync.Cond
	paused    bool
	forwarded int // bytes from the pool, forwarded to memcached
}

func startStallRelay(t *testing.T, target string) *stallRelay {
	r := &stallRelay{}
	r.resumed = sync.NewCond(&r.mu)
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var err error
		cerr := c.Control(func(fd uintptr) {
			err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, relayBuffer)
		})
		if cerr != nil {
			return cerr
		}
		return err
	}}
	r.fakeServer = startFakeWith(t, lc, func(nc net.Conn) {
		up, err := net.Dial("tcp", target)
		if err != nil {
			nc.Close()
			return
		}
		defer up.Close()
		go io.Copy(nc, up)
		buf := make([]byte, 64<<10)
		for {
			r.mu.Lock()
			for r.paused {
				r.resumed.Wait()
			}
			r.mu.Unlock()
			n, err := nc.Read(buf)
			if _, werr := up.Write(buf[:n]); werr != nil || err != nil {
				return
			}
			r.mu.Lock()
			r.forwarded += n
			r.mu.Unlock()
		}
	})
	t.Cleanup(r.resume) // let the relay's goroutines end
	return r
}

func (r *stallRelay) pause() {
	r.mu.Lock()
	r.paused = true
	r.mu.Unlock()
}

func (r *stallRelay) resume() {
	r.mu.Lock()
	r.paused = false
	r.resumed.Broadcast()
	r.mu.Unlock()
}

func (r *stallRelay) bytes() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.forwarded
}

// reset resets the pool's latest connection (RST): a write blocked on it
// fails.
func (r *stallRelay) reset(t *testing.T) {
	r.fakeServer.mu.Lock()
	nc := r.conns[len(r.conns)-1].(*net.TCPConn)
	r.fakeServer.mu.Unlock()
	if err := nc.SetLinger(0); err != nil {
		t.Fatal(err)
	}
	nc.Close()
}

// relayBuffer is the socket buffer size on both ends of the pool's
// connection to the relay: a write blocks once some 16KiB are on their way,
// so that a stall leaves the writer blocked in the middle of a 64KiB
// request. (Left to autotuning, loopback sockets take megabytes.)
const relayBuffer = 4 << 10

// smallSendBuffer shrinks the send buffer of the connection of the pool's
// only server.
func smallSendBuffer(t *testing.T, p *Pool) {
	t.Helper()
	c := p.servers[0].conns[0]
	c.mu.Lock()
	nc := c.nc
	c.mu.Unlock()
	if err := nc.(*net.TCPConn).SetWriteBuffer(relayBuffer); err != nil {
		t.Fatal(err)
	}
}

// writerTook reports whether the writer of the pool's only connection
// has taken requests whose replies are still to come. With the relay
// paused and requests larger than the socket buffers (see relayBuffer),
// it is blocked in a write, most of its buffer unsent.
func writerTook(p *Pool) bool {
	c := p.servers[0].conns[0]
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n > c.unsent
}

// namedValue returns a value of n bytes that names its key, over and over
// (so that bytes of another request's value show anywhere in it).
func namedValue(key string, n int) string {
	return strings.Repeat(key+"|", n/(len(key)+1)+1)[:n]
}

// TestWriteFailureKeepsBuffersApart: the goroutine transport's writer swaps
// two buffers with Serve, which encodes into one while the writer writes
// the other. A write that fails must give its buffer back all the same:
// otherwise, on the next session, both are one buffer, and requests are
// encoded over the bytes being written. Here a write fails while the
// writer keeps a big buffer for reuse (the server stops reading in the
// middle of a request larger than the socket buffers, then resets the
// connection). Then, in the next session, the server stalls with the
// writer blocked in the middle of a buffer, while requests queue up to
// MaxPendingSize: every request must still be the one memcached gets,
// every set stored, every value read back (through the pool and straight
// from memcached) the one set for its key.
func TestWriteFailureKeepsBuffersApart(t *testing.T) {
	mc := startMemcached(t)
	relay := startStallRelay(t, mc)
	p := newPool(t, Config{
		Servers:        []Server{{Addr: relay.addr()}},
		Transport:      TransportGoroutine,
		ConnsPerServer: 1,
		MaxPending:     1 << 16,   // the byte bound, below, is the one reached
		MaxPendingSize: 256 << 10, // less than the buffer the writer keeps
		HealthInterval: time.Hour, // no ping between the writes below
	})

	waitFor(t, 10*time.Second, "the first session", func() bool {
		return string(do(t, p, get("nothing"))) == memcache.ReplyEnd
	})
	smallSendBuffer(t, p)
	// A write of 512KiB: the writer keeps that buffer for reuse.
	if got := do(t, p, set("big", namedValue("big", 512<<10))); string(got) != memcache.ReplyStored {
		t.Fatalf("set big: %q", got)
	}
	// A write that fails: a request larger than the socket buffers can
	// hold, the server stops reading it midway, and resets.
	huge := newRecorder(t)
	if _, async := p.Serve(set("huge", namedValue("huge", 4<<20)), nil, huge); !async {
		t.Fatal("set huge answered at once")
	}
	waitFor(t, 10*time.Second, "the huge request to be on its way", func() bool { return relay.bytes() > 1<<20 })
	relay.pause()
	relay.reset(t)
	relay.resume()
	if got := huge.reply("set huge"); !isServerError(got) {
		t.Fatalf("set huge on a reset connection: %q", got)
	}
	waitFor(t, 10*time.Second, "the next session", func() bool {
		return string(do(t, p, get("nothing"))) == memcache.ReplyEnd
	})
	smallSendBuffer(t, p)

	// The next session, while the server stalls: requests queue behind a
	// blocked write up to MaxPendingSize.
	want := map[string]string{}
	for round := range 2 {
		relay.pause()
		var keys []string
		var recs []*recorder
		for i := 0; ; i++ {
			key := "r" + strconv.Itoa(round) + "-" + strconv.Itoa(i)
			value := namedValue(key, 64<<10+13*i)
			rec := newRecorder(t)
			out, async := p.Serve(set(key, value), nil, rec)
			if !async {
				if !strings.Contains(string(out), reasonText[reasonQueueFull]) {
					t.Fatalf("set %s: %q, want it queued or %q", key, out, reasonText[reasonQueueFull])
				}
				if writerTook(p) {
					break // full behind a blocked write
				}
				// Full before the writer took the requests: let it.
				waitFor(t, 10*time.Second, "the writer to take the queued requests", func() bool { return writerTook(p) })
				continue
			}
			keys, recs = append(keys, key), append(recs, rec)
			want[key] = value
		}
		relay.resume()
		for i, rec := range recs {
			if got := rec.reply("set " + keys[i]); string(got) != memcache.ReplyStored {
				t.Errorf("set %s: %q", keys[i], got)
			}
		}
	}
	direct := dialDirect(t, mc)
	for key, value := range want {
		wantReply := "VALUE " + key + " 0 " + strconv.Itoa(len(value)) + "\r\n" + value + "\r\nEND\r\n"
		if got := do(t, p, get(key)); string(got) != wantReply {
			t.Errorf("get %s through the pool: %.80q", key, got)
		}
		if got := direct.do(get(key)); string(got) != wantReply {
			t.Errorf("get %s from memcached: %.80q", key, got)
		}
	}
}

// unansweredAddr returns a loopback address where connection attempts
// hang until they time out: its listener's accept queue is full, and
// nothing accepts.
func unansweredAddr(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(sa.(*syscall.SockaddrInet4).Port))
	// Fill the accept queue: the first connections complete, the next
	// one hangs.
	for i := 0; ; i++ {
		nc, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err != nil {
			break
		}
		t.Cleanup(func() { nc.Close() })
		if i == 16 {
			t.Fatal("the listener's accept queue does not fill")
		}
	}
	return addr
}

// holdingWaiter counts its answers; the first one waits in Done until
// hold reports true.
type holdingWaiter struct {
	hold    func() bool
	calls   atomic.Int32
	first   []byte
	settled chan struct{} // closed when the first Done returns
}

func (w *holdingWaiter) Done(reply []byte) {
	if w.calls.Add(1) > 1 {
		return
	}
	w.first = bytes.Clone(reply)
	for !w.hold() {
		time.Sleep(time.Millisecond) // polling the pool's state
	}
	close(w.settled)
}

// TestTimeoutWhileDialling: a request queued during the first dial and
// timed out by the watchdog is answered once, even when the dial fails
// while the watchdog hands the answer over. (The watchdog drained the queue
// into the slice the dialling goroutine drains into: it failed the same
// request again.)
func TestTimeoutWhileDialling(t *testing.T) {
	p := newPool(t, Config{
		Servers:        []Server{{Addr: unansweredAddr(t)}},
		Transport:      TransportGoroutine,
		ConnsPerServer: 1,
		Timeout:        20 * time.Millisecond,
		DialTimeout:    300 * time.Millisecond,
	})
	c := p.servers[0].conns[0]
	w := &holdingWaiter{settled: make(chan struct{})}
	w.hold = func() bool { // the dial has failed: what was queued is failed
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.state == stateDown
	}
	if _, async := p.Serve(get("k"), nil, w); !async {
		t.Fatal("served at once while dialling")
	}
	select {
	case <-w.settled:
	case <-time.After(10 * time.Second):
		t.Fatal("no answer")
	}
	p.Close() // waits for every goroutine of the pool
	if n := w.calls.Load(); n != 1 {
		t.Fatalf("answered %d times", n)
	}
	if want := "SERVER_ERROR upstream " + p.servers[0].addr + " timeout\r\n"; string(w.first) != want {
		t.Fatalf("answered %q, want %q", w.first, want)
	}
}
