package pipeline

import (
	"context"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fae-sidecar/fae/internal/testproc"
	"github.com/fae-sidecar/fae/proto/memcache"
)

// stallRelay forwards each connection to a memcached, and can stop
// reading what the pipeline sends (as a stalled server does: the
// pipeline's writes block once the socket buffers are full) and reset the
// pipeline's connection. Its sockets have a small receive buffer (see
// relayBuffer).
type stallRelay struct {
	*testproc.Fake
	mu        sync.Mutex
	resumed   *sync.Cond
	paused    bool
	forwarded int // bytes from the pipeline, forwarded to memcached
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
	r.Fake = testproc.StartFake(t, lc, func(nc net.Conn) { r.forward(nc, target) })
	t.Cleanup(r.resume) // let the relay's goroutines end (runs before the fake stops)
	return r
}

// forward copies nc to a new connection to target, and back, until either
// ends; while paused it stops reading nc.
func (r *stallRelay) forward(nc net.Conn, target string) {
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

// reset resets the pipeline's latest connection (RST): a write blocked on
// it fails.
func (r *stallRelay) reset(t *testing.T) {
	conns := r.Conns()
	nc := conns[len(conns)-1].(*net.TCPConn)
	if err := nc.SetLinger(0); err != nil {
		t.Fatal(err)
	}
	nc.Close()
}

// relayBuffer is the socket buffer size on both ends of the pipeline's
// connection to the relay: a write blocks once some 16KiB are on their
// way, so that a stall leaves the writer blocked in the middle of a 64KiB
// request. (Left to autotuning, loopback sockets take megabytes.)
const relayBuffer = 4 << 10

// dialSmallSendBuffer is a Config.Dial whose connections have a send
// buffer of relayBuffer.
func dialSmallSendBuffer(ctx context.Context, addr string) (net.Conn, error) {
	nc, err := dialTCP(ctx, addr)
	if err != nil {
		return nil, err
	}
	if err := nc.(*net.TCPConn).SetWriteBuffer(relayBuffer); err != nil {
		nc.Close()
		return nil, err
	}
	return nc, nil
}

// writerTook reports whether the writer of the pipeline's only connection
// has taken requests whose replies are still to come. With the relay
// paused and requests larger than the socket buffers (see relayBuffer),
// it is blocked in a write, most of its buffer unsent.
func writerTook(p *Pipeline) bool {
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
// two buffers with Enqueue, which encodes into one while the writer writes
// the other. A write that fails must give its buffer back all the same:
// otherwise, on the next session, both are one buffer, and requests are
// encoded over the bytes being written. Here a write fails while the
// writer keeps a big buffer for reuse (the server stops reading in the
// middle of a request larger than the socket buffers, then resets the
// connection). Then, in the next session, the server stalls with the
// writer blocked in the middle of a buffer, while requests queue up to
// MaxPendingSize: every request must still be the one memcached gets,
// every set stored, every value read back (through the relay and straight
// from memcached) the one set for its key.
func TestWriteFailureKeepsBuffersApart(t *testing.T) {
	mc := startMemcached(t)
	relay := startStallRelay(t, mc)
	p := newPipeline(t, Config{
		Servers:        []string{relay.Addr()},
		ConnsPerServer: 1,
		MaxPending:     1 << 16,   // the byte bound, below, is the one reached
		MaxPendingSize: 256 << 10, // less than the buffer the writer keeps
		HealthInterval: time.Hour, // no probe between the writes below
		Dial:           dialSmallSendBuffer,
	})

	testproc.WaitFor(t, "the first session", func() bool {
		o := getOp("nothing")
		return p.Enqueue(nil, 0, o) == ReasonNone && string(o.answer(t).reply) == memcache.ReplyEnd
	})
	// A write of 512KiB: the writer keeps that buffer for reuse.
	if got := do(t, p, 0, setOp("big", namedValue("big", 512<<10))); got != memcache.ReplyStored {
		t.Fatalf("set big: %q", got)
	}
	// A write that fails: a request larger than the socket buffers can
	// hold, the server stops reading it midway, and resets.
	huge := setOp("huge", namedValue("huge", 4<<20))
	if why := p.Enqueue(nil, 0, huge); why != ReasonNone {
		t.Fatalf("set huge: %v", why)
	}
	testproc.WaitFor(t, "the huge request to be on its way", func() bool { return relay.bytes() > 1<<20 })
	relay.pause()
	relay.reset(t)
	relay.resume()
	if r := huge.answer(t); r.why == ReasonNone {
		t.Fatalf("set huge on a reset connection: %q", r.reply)
	}
	testproc.WaitFor(t, "the next session", func() bool {
		o := getOp("nothing")
		return p.Enqueue(nil, 0, o) == ReasonNone && string(o.answer(t).reply) == memcache.ReplyEnd
	})

	// The next session, while the server stalls: requests queue behind a
	// blocked write up to MaxPendingSize.
	want := map[string]string{}
	for round := range 2 {
		relay.pause()
		var keys []string
		var ops []*testOp
		for i := 0; ; i++ {
			key := "r" + strconv.Itoa(round) + "-" + strconv.Itoa(i)
			value := namedValue(key, 64<<10+13*i)
			o := setOp(key, value)
			if why := p.Enqueue(nil, 0, o); why != ReasonNone {
				if why != ReasonQueueFull {
					t.Fatalf("set %s: %v, want it queued or %v", key, why, ReasonQueueFull)
				}
				if writerTook(p) {
					break // full behind a blocked write
				}
				// Full before the writer took the requests: let it.
				testproc.WaitFor(t, "the writer to take the queued requests", func() bool { return writerTook(p) })
				continue
			}
			keys, ops = append(keys, key), append(ops, o)
			want[key] = value
		}
		t.Logf("round %d: %d requests queued behind a blocked write", round, len(ops))
		relay.resume()
		for i, o := range ops {
			if r := o.answer(t); string(r.reply) != memcache.ReplyStored {
				t.Errorf("set %s: %q (%v)", keys[i], r.reply, r.why)
			}
		}
	}
	direct := New(Config{Servers: []string{mc}, ConnsPerServer: 1, Timeout: 5 * time.Second, Probe: probe})
	defer direct.Close()
	for key, value := range want {
		if got := do(t, p, 0, getOp(key)); got != hit(key, value) {
			t.Errorf("get %s through the relay: %.80q", key, got)
		}
		if got := do(t, direct, 0, getOp(key)); got != hit(key, value) {
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

// holdingOp counts its answers; the first one waits in Fail (or Done)
// until hold reports true.
type holdingOp struct {
	*testOp
	hold    func() bool
	calls   atomic.Int32
	first   Reason
	settled chan struct{} // closed when the first answer returns
}

func (o *holdingOp) answered(why Reason) {
	if o.calls.Add(1) > 1 {
		return
	}
	o.first = why
	for !o.hold() {
		time.Sleep(time.Millisecond) // polling the pipeline's state
	}
	close(o.settled)
}

func (o *holdingOp) Done([]byte) bool { o.answered(ReasonNone); return true }
func (o *holdingOp) Fail(why Reason)  { o.answered(why) }

// TestTimeoutWhileDialling: a request queued during the first dial and
// timed out by the watchdog is answered once, even when the dial fails
// while the watchdog hands the answer over. (The watchdog drained the queue
// into the slice the dialling goroutine drains into: it failed the same
// request again.)
func TestTimeoutWhileDialling(t *testing.T) {
	p := newPipeline(t, Config{
		Servers:        []string{unansweredAddr(t)},
		ConnsPerServer: 1,
		Timeout:        20 * time.Millisecond,
		DialTimeout:    300 * time.Millisecond,
	})
	c := p.servers[0].conns[0]
	o := &holdingOp{testOp: getOp("k"), settled: make(chan struct{})}
	o.hold = func() bool { // the dial has failed: what was queued is failed
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.state == stateDown
	}
	if why := p.Enqueue(nil, 0, o); why != ReasonNone {
		t.Fatalf("refused while dialling: %v", why)
	}
	select {
	case <-o.settled:
	case <-time.After(10 * time.Second):
		t.Fatal("no answer")
	}
	p.Close() // waits for every goroutine of the pipeline
	if n := o.calls.Load(); n != 1 {
		t.Fatalf("answered %d times", n)
	}
	if o.first != ReasonTimeout {
		t.Fatalf("answered with %v, want %v", o.first, ReasonTimeout)
	}
}
