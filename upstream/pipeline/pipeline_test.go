package pipeline

import (
	"bufio"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fae-sidecar/fae/internal/testproc"
	"github.com/fae-sidecar/fae/proto/memcache"
)

// Requests pipelined on the goroutine transport get their own replies, in
// order, including replies larger than the reader's buffer.
func TestRoundTrip(t *testing.T) {
	p := newPipeline(t, Config{Servers: []string{startMemcached(t)}, ConnsPerServer: 2})
	big := strings.Repeat("b", 3*readBufSize+17)
	values := map[string]string{"small": "v", "empty": "", "big": big}
	for k, v := range values {
		if got := do(t, p, 0, setOp(k, v)); got != memcache.ReplyStored {
			t.Fatalf("set %s: %q", k, got)
		}
	}
	var ops []*testOp
	var want []string
	for i := range 200 {
		k := []string{"small", "empty", "big", "missing"}[i%4]
		o := getOp(k)
		if why := p.Enqueue(nil, i%2, o); why != ReasonNone {
			t.Fatalf("enqueue %d: %v", i, why)
		}
		ops = append(ops, o)
		if v, ok := values[k]; ok {
			want = append(want, hit(k, v))
		} else {
			want = append(want, memcache.ReplyEnd)
		}
	}
	for i, o := range ops {
		if r := o.answer(t); r.why != ReasonNone || string(r.reply) != want[i] {
			t.Fatalf("op %d: %.60q (%v), want %.60q", i, r.reply, r.why, want[i])
		}
	}
	if n, err := p.Pending(t.Context()); n != 0 || err != nil {
		t.Errorf("Pending after every reply: %d, %v", n, err)
	}
}

// TestEnqueueBounds checks a connection's queue limits without a network:
// a connection still dialling queues requests and writes nothing.
func TestEnqueueBounds(t *testing.T) {
	p := &Pipeline{cfg: Config{MaxPending: 3, MaxPendingSize: 1000}.WithDefaults()}
	s := &server{addr: "127.0.0.1:1"}
	c := newConn(p, s)
	s.conns = []*conn{c}
	big := strings.Repeat("x", 600)
	cases := []struct {
		name string
		op   *testOp
		want Reason
	}{
		{"a big request alone is taken", setOp("big", big), ReasonNone},
		{"a second one would pass the size bound", setOp("big", big), ReasonQueueFull},
		{"a small one fits", setOp("s", "x"), ReasonNone},
		{"third request", setOp("s", "x"), ReasonNone},
		{"past MaxPending", setOp("s", "x"), ReasonQueueFull},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := s.enqueue(0, tc.op); got != tc.want {
				t.Fatalf("enqueue: %v, want %v", got, tc.want)
			}
		})
	}
	if c.n != 3 || c.unsent != 3 {
		t.Errorf("queue holds %d (%d unsent), want 3", c.n, c.unsent)
	}
}

// scripted serves each connection: it answers every request line with
// reply, but "version" with a VERSION line when probes is set. An empty
// reply answers nothing.
func scripted(t *testing.T, reply string, probes bool) string {
	t.Helper()
	return testproc.StartFake(t, net.ListenConfig{}, func(nc net.Conn) {
		br := bufio.NewReader(nc)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			out := reply
			if probes && line == "version\r\n" {
				out = "VERSION 1.6.18\r\n"
			}
			if out != "" {
				nc.Write([]byte(out))
			}
		}
	}).Addr()
}

// What fails an op, and how fast.
func TestFailures(t *testing.T) {
	cases := []struct {
		name    string
		server  func(t *testing.T) string
		timeout time.Duration
		want    Reason
	}{
		{name: "refused", server: func(t *testing.T) string {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ln.Close()
			return ln.Addr().String()
		}, want: ReasonRefused},
		// A line where a get expects VALUE or END: the stream is out of step.
		{name: "bad reply", server: func(t *testing.T) string { return scripted(t, "STORED\r\n", true) }, want: ReasonBadReply},
		{name: "no reply", server: func(t *testing.T) string { return scripted(t, "", false) }, timeout: 100 * time.Millisecond, want: ReasonTimeout},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := newPipeline(t, Config{Servers: []string{tc.server(t)}, ConnsPerServer: 1, Timeout: tc.timeout})
			o := getOp("k")
			if why := p.Enqueue(nil, 0, o); why != ReasonNone {
				// Already known down: failing at once is right too.
				if why != tc.want {
					t.Fatalf("enqueue: %v, want %v", why, tc.want)
				}
				return
			}
			if r := o.answer(t); r.why != tc.want {
				t.Fatalf("answered %q (%v), want %v", r.reply, r.why, tc.want)
			}
			if tc.want == ReasonTimeout {
				if timeouts, _ := p.Stats(); timeouts == 0 || p.Timeouts(0) == 0 {
					t.Errorf("a timeout, but Stats says %d and Timeouts(0) %d", timeouts, p.Timeouts(0))
				}
			}
		})
	}
}

// A server that is down fails ops at once, and Down says so.
func TestDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	p := newPipeline(t, Config{Servers: []string{addr}, ConnsPerServer: 2})
	testproc.WaitFor(t, "the server known down", func() bool { return p.Down(0) })
	if why := p.Enqueue(nil, 1, getOp("k")); why != ReasonRefused {
		t.Errorf("enqueue on a down server: %v, want %v", why, ReasonRefused)
	}
	if p.Ready(0) != 0 {
		t.Errorf("Ready %d on a down server", p.Ready(0))
	}
}

// Close fails what is queued, once, and refuses what comes after.
func TestCloseFailsQueued(t *testing.T) {
	p := New(Config{Servers: []string{scripted(t, "", false)}, ConnsPerServer: 1, Timeout: time.Minute, Probe: probe})
	var ops []*testOp
	for i := range 5 {
		o := setOp("k"+strconv.Itoa(i), "v")
		if why := p.Enqueue(nil, 0, o); why != ReasonNone {
			t.Fatalf("enqueue: %v", why)
		}
		ops = append(ops, o)
	}
	p.Close()
	for i, o := range ops {
		if r := o.answer(t); r.why != ReasonPoolClosed {
			t.Errorf("op %d: %q (%v), want %v", i, r.reply, r.why, ReasonPoolClosed)
		}
		select {
		case r := <-o.res:
			t.Errorf("op %d answered twice: %v", i, r)
		default:
		}
	}
	if why := p.Enqueue(nil, 0, getOp("k")); why != ReasonPoolClosed {
		t.Errorf("enqueue after Close: %v, want %v", why, ReasonPoolClosed)
	}
}

func TestReasonString(t *testing.T) {
	for r := range NumReasons {
		if r.String() == "" {
			t.Errorf("reason %d has no text", r)
		}
	}
	if ReasonTimeout.String() != "timeout" || NumReasons.String() != "error" {
		t.Errorf("texts: %q, %q", ReasonTimeout, NumReasons)
	}
}

// reusedOp is an Op that can be enqueued again once answered, as an owner
// that recycles its ops does.
type reusedOp struct {
	wire []byte
	f    memcache.Frame
	done chan struct{}
}

func (o *reusedOp) Encode(b []byte) []byte { return append(b, o.wire...) }
func (o *reusedOp) Scan(b []byte) (Progress, error) {
	err := o.f.Scan(b)
	return Progress{N: o.f.N, Data: o.f.Data, Done: o.f.Done}, err
}
func (o *reusedOp) Done([]byte) bool { o.done <- struct{}{}; return true }
func (o *reusedOp) Fail(Reason)      { o.done <- struct{}{} }

// TestEnqueueAllocs pins a round trip on the goroutine transport, reader
// included, at zero allocations.
func TestEnqueueAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race")
	}
	p := newPipeline(t, Config{Servers: []string{startMemcached(t)}, ConnsPerServer: 1})
	do(t, p, 0, setOp("k", strings.Repeat("v", 100)))
	o := &reusedOp{wire: []byte("get k\r\n"), done: make(chan struct{}, 1)}
	n := testing.AllocsPerRun(200, func() {
		o.f = memcache.Frame{Kind: memcache.FrameValues}
		if why := p.Enqueue(nil, 0, o); why != ReasonNone {
			t.Fatal(why)
		}
		<-o.done
	})
	if n != 0 {
		t.Errorf("%v allocations per round trip, want 0", n)
	}
}
