//go:build linux

package lagrelay

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/fae-sidecar/fae/internal/testproc"
)

// echoServer echoes every connection until EOF, then closes its side; it
// stops when the test ends.
func echoServer(t *testing.T) string {
	t.Helper()
	return testproc.ServeTCP(t, func(c net.Conn) {
		io.Copy(c, c)
		c.(*net.TCPConn).CloseWrite()
	})
}

// startRelay serves a relay of cfg until the test ends, and checks that
// Serve then returned the context's error.
func startRelay(t *testing.T, cfg Config) *Relay {
	t.Helper()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	r, err := Listen(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Serve returned %v, want context.Canceled", err)
		}
	})
	return r
}

func dial(t *testing.T, addr string) *net.TCPConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(30 * time.Second))
	return c.(*net.TCPConn)
}

func TestRelayPassesBytesExactly(t *testing.T) {
	echo := echoServer(t)
	tests := []struct {
		name      string
		delay     time.Duration
		handshake bool
		size      int
		maxWrite  int
		maxQueued int
	}{
		{name: "one byte, no delay", size: 1, maxWrite: 1},
		{name: "100 KB in small writes, 1ms", delay: time.Millisecond, size: 100 << 10, maxWrite: 300},
		{name: "3 MB, 2ms, handshake", delay: 2 * time.Millisecond, handshake: true, size: 3 << 20, maxWrite: 64 << 10},
		{name: "3 MB over a 64 KiB queue bound", delay: time.Millisecond, size: 3 << 20, maxWrite: 100 << 10, maxQueued: 64 << 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := startRelay(t, Config{Upstream: echo, Delay: tt.delay, Handshake: tt.handshake, MaxQueued: tt.maxQueued})
			c := dial(t, r.Addr())
			rng := rand.New(rand.NewPCG(uint64(tt.size), 1))
			want := make([]byte, tt.size)
			for i := range want {
				want[i] = byte(rng.Uint32())
			}
			var wg sync.WaitGroup
			wg.Go(func() {
				for p := want; len(p) > 0; {
					n := min(len(p), 1+rng.IntN(tt.maxWrite))
					if _, err := c.Write(p[:n]); err != nil {
						t.Error(err)
						return
					}
					p = p[n:]
				}
				c.CloseWrite() // the relay forwards the FIN; the echo answers with its own
			})
			got, err := io.ReadAll(c) // to the echo's FIN, relayed
			wg.Wait()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("got %d bytes back, want the %d sent, unchanged", len(got), len(want))
			}
			testproc.WaitFor(t, "the relayed connection to close", func() bool { return r.Stats().Open == 0 })
			st := r.Stats()
			if st.Bytes != 2*uint64(tt.size) || st.Queued != 0 || st.Accepted != 1 {
				t.Errorf("stats %+v: want %d bytes written (both ways), none queued, 1 accepted", st, 2*tt.size)
			}
			if st.HoldMin < tt.delay {
				t.Errorf("a chunk was held %v, less than the delay %v", st.HoldMin, tt.delay)
			}
		})
	}
}

// TestRelayHoldsEachChunkForTheDelay checks the lower bounds only: a round
// trip through the relay takes two delays, the first one with Handshake
// four (how much longer is the machine's business, not asserted).
func TestRelayHoldsEachChunkForTheDelay(t *testing.T) {
	const delay = 5 * time.Millisecond
	echo := echoServer(t)
	for _, handshake := range []bool{false, true} {
		r := startRelay(t, Config{Upstream: echo, Delay: delay, Handshake: handshake})
		start := time.Now()
		c := dial(t, r.Addr())
		buf := make([]byte, 4)
		for i := range 5 {
			t0 := time.Now()
			if _, err := c.Write([]byte("ping")); err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(c, buf); err != nil {
				t.Fatal(err)
			}
			if rtt := time.Since(t0); rtt < 2*delay {
				t.Errorf("handshake %v: round trip %d took %v, under two delays (%v)", handshake, i, rtt, 2*delay)
			}
			if i == 0 && handshake {
				if first := time.Since(start); first < 4*delay {
					t.Errorf("first reply %v after dialling, want at least 4 delays (%v): handshake, request, reply", first, 4*delay)
				}
			}
		}
		// The relay counts a chunk after its write, which the client may read first.
		testproc.WaitFor(t, "the last chunk to be counted", func() bool { return r.Stats().Chunks == 10 })
		if st := r.Stats(); st.HoldMin < delay || st.HoldMean() < delay {
			t.Errorf("handshake %v: stats %+v, want 10 chunks each held at least %v", handshake, st, delay)
		}
	}
}

// TestRelayBoundsWhatItHolds: a client that does not read makes the relay
// stop reading the upstream once MaxQueued bytes are held; they all arrive
// when it reads.
func TestRelayBoundsWhatItHolds(t *testing.T) {
	const size, maxQueued = 8 << 20, 64 << 10
	data := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	flood := testproc.ServeTCP(t, func(c net.Conn) {
		c.Write(data)
		c.Close()
	})
	r := startRelay(t, Config{Upstream: flood, MaxQueued: maxQueued})
	c := dial(t, r.Addr())
	testproc.WaitFor(t, "the relay to pause the upstream", func() bool { return r.Stats().Paused > 0 })
	if q := r.Stats().Queued; q > maxQueued+readSize {
		t.Errorf("%d bytes queued, over MaxQueued %d plus one read", q, maxQueued)
	}
	got, err := io.ReadAll(c)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read %d bytes (%v), want the %d sent", len(got), err, size)
	}
}

func TestRelayUpstreamRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := ln.Addr().String()
	ln.Close()
	r := startRelay(t, Config{Upstream: refused, Delay: time.Millisecond})
	c := dial(t, r.Addr())
	c.Write([]byte("get k\r\n"))
	if n, err := c.Read(make([]byte, 16)); n != 0 || err == nil {
		t.Errorf("read %d bytes, %v: want the connection closed", n, err)
	}
	testproc.WaitFor(t, "the refusal to be counted", func() bool { st := r.Stats(); return st.Refused == 1 && st.Open == 0 })
}

func TestServeEndsWithItsContext(t *testing.T) {
	echo := echoServer(t)
	r, err := Listen(Config{Listen: "127.0.0.1:0", Upstream: echo, Delay: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Serve(ctx) }()
	c := dial(t, r.Addr())
	c.Write([]byte("held for an hour"))
	testproc.WaitFor(t, "the chunk to be held", func() bool { return r.Stats().Queued > 0 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Serve returned %v, want context.Canceled", err)
	}
	if n, err := c.Read(make([]byte, 16)); n != 0 || err == nil {
		t.Errorf("read %d bytes, %v: want the connection closed with the relay", n, err)
	}
	if err := r.Serve(context.Background()); err == nil {
		t.Error("a second Serve succeeded")
	}
	if _, err := net.Dial("tcp", r.Addr()); err == nil {
		t.Error("the listener still accepts after Serve returned")
	}
}

func TestListenRejects(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{name: "negative delay", cfg: Config{Listen: "127.0.0.1:0", Upstream: "127.0.0.1:1", Delay: -1}},
		{name: "negative max queued", cfg: Config{Listen: "127.0.0.1:0", Upstream: "127.0.0.1:1", MaxQueued: -1}},
		{name: "bad upstream", cfg: Config{Listen: "127.0.0.1:0", Upstream: "nohostport"}},
		{name: "bad listen", cfg: Config{Listen: "127.0.0.1:99999", Upstream: "127.0.0.1:1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if r, err := Listen(tt.cfg); err == nil {
				r.Close()
				t.Error("Listen succeeded")
			}
		})
	}
}

func TestDueHeapAndFIFO(t *testing.T) {
	var h dueHeap
	// Due times out of order, and ties broken by read order.
	for i, due := range []int64{50, 10, 30, 10, 40, 30, 20} {
		h.push(&chunk{due: due, seq: uint64(i)})
	}
	var got []int64
	var lastSeq uint64
	var lastDue int64 = -1
	for len(h) > 0 {
		c := h.pop()
		if c.due == lastDue && c.seq < lastSeq {
			t.Errorf("due %d: seq %d popped after %d", c.due, c.seq, lastSeq)
		}
		got = append(got, c.due)
		lastDue, lastSeq = c.due, c.seq
	}
	if want := []int64{10, 10, 20, 30, 30, 40, 50}; !slices.Equal(got, want) {
		t.Errorf("popped %v, want %v", got, want)
	}

	var q fifo
	next := 0
	for round := range 5 {
		for range 3 + round*7 {
			q.push(&chunk{seq: uint64(next)})
			next++
		}
		for range 2 + round*5 {
			c := q.pop()
			if want := uint64(next - q.len() - 1); c.seq != want {
				t.Fatalf("popped %d, want %d", c.seq, want)
			}
		}
	}
}

// TestRelayAllocs pins the steady state of a relayed round trip: the
// relay, the echo behind it and the client allocate nothing once warm.
func TestRelayAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates; make test runs this without it")
	}
	echo := testproc.ServeTCP(t, func(c net.Conn) {
		buf := make([]byte, 64)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			if _, err := c.Write(buf[:n]); err != nil {
				return
			}
		}
	})
	r := startRelay(t, Config{Upstream: echo, Delay: 50 * time.Microsecond})
	c := dial(t, r.Addr())
	msg, buf := []byte("ping"), make([]byte, 4)
	roundTrip := func() {
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			t.Fatal(err)
		}
	}
	for range 100 {
		roundTrip()
	}
	if allocs := testing.AllocsPerRun(300, roundTrip); allocs != 0 {
		t.Errorf("%v allocations per relayed round trip, want 0", allocs)
	}
}
