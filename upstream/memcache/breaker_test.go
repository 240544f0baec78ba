package memcache

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fae-sidecar/fae/internal/testproc"
	"github.com/fae-sidecar/fae/proto/memcache"
	"github.com/fae-sidecar/fae/upstream/breaker"
)

// testClock is the breakers' clock in these tests: it moves only when told,
// so a breaker stays open until the test ends its sleep window.
type testClock struct{ d atomic.Int64 }

func (c *testClock) now() time.Duration      { return time.Duration(c.d.Load()) }
func (c *testClock) advance(d time.Duration) { c.d.Add(int64(d)) }

// testBreaker trips after 4 outcomes of which half failed, and sleeps 1s
// of the test's clock.
var testBreaker = breaker.Config{MinRequests: 4, ErrorPercent: 50, SleepWindow: time.Second}

// breakerOf returns the state of server i's breaker, as Servers reports it.
func breakerOf(t testing.TB, p *Pool, i int) breaker.State {
	t.Helper()
	b := p.Servers()[i].Breaker
	if b == nil {
		t.Fatalf("server %d has no breaker", i)
	}
	return b.State
}

// TestBreakerOpensAndCloses, on both transports: a killed server's
// failures open its breaker; then its keys are answered at once with its
// "breaker open" line (misses in a multi-get) and the other server's keys
// are served as before; once the server is back, its breaker stays open
// until the sleep window ends, and the probe's reply closes it.
func TestBreakerOpensAndCloses(t *testing.T) {
	for _, tr := range []Transport{TransportGoroutine, TransportLoop} {
		t.Run(string(tr), func(t *testing.T) {
			a, b := startMemcached(t), startKillable(t)
			clk := &testClock{}
			brk := testBreaker
			// A long timeout: "at once" below is no matter of machine load.
			p := newPool(t, Config{Servers: []Server{{Addr: a}, {Addr: b.addr}}, Transport: tr, Timeout: 10 * time.Second,
				Breaker: &brk, clock: clk.now})
			send := sender(t, p, tr)
			aKey, bKeys := keysOn(p, 0, 1, "brk:")[0], keysOn(p, 1, 3, "brk:")
			for _, k := range []string{aKey, bKeys[0]} {
				if got := send(set(k, "v-"+k)); string(got) != memcache.ReplyStored {
					t.Fatalf("set %s: %q", k, got)
				}
			}

			b.kill()
			open := "SERVER_ERROR upstream " + b.addr + " breaker open\r\n"
			failed := 0
			testproc.WaitFor(t, "b's breaker to open", func() bool {
				got := send(get(bKeys[0]))
				if !isServerError(got) {
					t.Fatalf("get on the killed server: %q", got)
				}
				if string(got) == open {
					return true
				}
				failed++
				return false
			})
			t.Logf("%d requests failed before the breaker opened", failed)
			if got := breakerOf(t, p, 1); got != breaker.Open {
				t.Fatalf("b's breaker %v, want open", got)
			}
			if got := breakerOf(t, p, 0); got != breaker.Closed {
				t.Fatalf("a's breaker %v, want closed", got)
			}
			cases := []struct {
				name string
				req  *memcache.Request
				want string
			}{
				{"get", get(bKeys[1]), open},
				{"set", set(bKeys[1], "x"), open},
				{"multi-get: b's keys are misses", get(bKeys[0], aKey, bKeys[1]), hit(aKey, "v-"+aKey)},
				{"multi-get of b's keys", get(bKeys[0], bKeys[1]), open},
				{"a's keys as before", get(aKey), hit(aKey, "v-"+aKey)},
			}
			for _, tc := range cases {
				if got := send(tc.req); string(got) != tc.want {
					t.Fatalf("%s: %q, want %q", tc.name, got, tc.want)
				}
			}
			if tr == TransportGoroutine {
				if _, async, _ := call(t, p, get(bKeys[2])); async {
					t.Error("a request refused by the breaker went async: it must be answered within Serve")
				}
			}
			if stat(p, "servers_breaker_open") != 1 || stat(p, "breaker_opens") == 0 || stat(p, "breaker_rejected") == 0 {
				t.Errorf("stats: servers_breaker_open %d, breaker_opens %d, breaker_rejected %d",
					stat(p, "servers_breaker_open"), stat(p, "breaker_opens"), stat(p, "breaker_rejected"))
			}

			// Back, and its connections ready: still refused until the
			// sleep window ends.
			b.start()
			testproc.WaitFor(t, "b's connections to be ready", func() bool { return p.pipe.Ready(1) > 0 })
			if got := send(get(bKeys[1])); string(got) != open {
				t.Fatalf("get within the sleep window: %q, want %q", got, open)
			}
			// After it, the next request is the probe. Until the loop's own
			// connection is back it fails, and the breaker sleeps again.
			testproc.WaitFor(t, "the probe to close b's breaker", func() bool {
				clk.advance(testBreaker.SleepWindow)
				got := send(get(bKeys[1]))
				if !isServerError(got) && string(got) != memcache.ReplyEnd {
					t.Fatalf("the probe: %q", got)
				}
				return breakerOf(t, p, 1) == breaker.Closed
			})
			for _, k := range bKeys {
				if got := send(set(k, "back")); string(got) != memcache.ReplyStored {
					t.Fatalf("set %s once closed: %q", k, got)
				}
			}
			if stat(p, "servers_breaker_open") != 0 {
				t.Error("servers_breaker_open still counts b")
			}
		})
	}
}

// TestBreakerFailover: a server that answers the pipeline's health probes
// but never a request is not down to the pipeline, so its keys would each
// wait for the timeout; once its breaker opens they go to the failover
// server instead, and come back when the probe is answered.
func TestBreakerFailover(t *testing.T) {
	a, f, backend := startMemcached(t), startMemcached(t), startMemcached(t)
	var healthy atomic.Bool
	// versionOnly answers "version" and nothing else, as a server too
	// loaded to serve requests may still answer a cheap command.
	versionOnly := func(nc net.Conn) {
		br := bufio.NewReader(nc)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			if line == "version\r\n" {
				nc.Write([]byte("VERSION fake\r\n"))
			}
		}
	}
	b := startFake(t, func(nc net.Conn) {
		if healthy.Load() {
			relayTo(backend, healthy.Load)(nc)
			return
		}
		versionOnly(nc)
	})
	clk := &testClock{}
	brk := testBreaker
	p := newPool(t, Config{Servers: []Server{{Addr: a}, {Addr: b.Addr()}}, Failover: []Server{{Addr: f}},
		Transport: TransportGoroutine, Timeout: 200 * time.Millisecond, Breaker: &brk, clock: clk.now})
	bKeys := keysOn(p, 1, 8, "fo:")
	testproc.WaitFor(t, "b to answer its probe", func() bool { return p.pipe.Ready(1) > 0 })

	// Requests in flight together all fail (a timeout; or a bad reply,
	// when the fake answers a probe queued behind them): enough failures
	// at once.
	var recs []*recorder
	for _, k := range bKeys {
		r := newRecorder(t)
		if _, async := p.Serve(get(k), nil, r); !async {
			t.Fatalf("get %s answered at once before any failure", k)
		}
		recs = append(recs, r)
	}
	for i, r := range recs {
		if got := r.reply("get " + bKeys[i]); !isServerError(got) || strings.HasSuffix(string(got), " breaker open\r\n") {
			t.Fatalf("get %s on the silent server: %q, want it failed", bKeys[i], got)
		}
	}
	if got := breakerOf(t, p, 1); got != breaker.Open {
		t.Fatalf("b's breaker %v after %d timeouts, want open", got, len(bKeys))
	}
	// Open: b's keys go to the failover server, even once b's connections
	// are ready again.
	testproc.WaitFor(t, "b's connections to be ready", func() bool { return p.pipe.Ready(1) > 0 })
	df := dialDirect(t, f)
	for _, k := range bKeys {
		if got, _, took := call(t, p, set(k, "fo-"+k)); string(got) != memcache.ReplyStored {
			t.Fatalf("set %s with b's breaker open: %q (after %v)", k, got, took)
		}
		if got := df.do(get(k)); string(got) != hit(k, "fo-"+k) {
			t.Fatalf("%s on the failover server: %q", k, got)
		}
	}

	healthy.Store(true)
	b.CloseConns()
	testproc.WaitFor(t, "the probe to close b's breaker", func() bool {
		clk.advance(testBreaker.SleepWindow)
		do(t, p, set(bKeys[0], "back"))
		return breakerOf(t, p, 1) == breaker.Closed
	})
	if got := do(t, p, set(bKeys[1], "back")); string(got) != memcache.ReplyStored {
		t.Fatalf("set on b once closed: %q", got)
	}
	if got := dialDirect(t, backend).do(get(bKeys[1])); string(got) != hit(bKeys[1], "back") {
		t.Fatalf("%s on b once closed: %q", bKeys[1], got)
	}
}

// TestBreakerZeroAllocs: with breakers on, a request sent and one refused
// at once by an open breaker allocate nothing.
func TestBreakerZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race")
	}
	a, b := startMemcached(t), startKillable(t)
	clk := &testClock{}
	brk := testBreaker
	p := newPool(t, Config{Servers: []Server{{Addr: a}, {Addr: b.addr}}, Breaker: &brk, clock: clk.now})
	aKey, bKey := keysOn(p, 0, 1, "z")[0], keysOn(p, 1, 1, "z")[0]
	do(t, p, set(aKey, "v"))
	b.kill()
	testproc.WaitFor(t, "b's breaker to open", func() bool {
		do(t, p, get(bKey))
		return breakerOf(t, p, 1) == breaker.Open
	})
	for _, tc := range []struct {
		name string
		req  *memcache.Request
	}{
		{"sent", get(aKey)},
		{"refused", get(bKey)},
		{"multi-get, a part refused", get(aKey, bKey)},
	} {
		t.Run(tc.name, func(t *testing.T) { requireZeroAllocs(t, p, tc.req) })
	}
}

// TestBreakerValidate: the breaker's rules are checked with the pool's
// configuration, naming the field.
func TestBreakerValidate(t *testing.T) {
	servers := []Server{{Addr: "127.0.0.1:11211"}}
	for _, tc := range []struct {
		name    string
		brk     breaker.Config
		wantErr string
	}{
		{"defaults", breaker.Config{}, ""},
		{"the issue's", breaker.Config{MinRequests: 20, ErrorPercent: 50, SleepWindow: time.Second}, ""},
		{"negative min_requests", breaker.Config{MinRequests: -1}, "min_requests"},
		{"error_percent over 100", breaker.Config{ErrorPercent: 101}, "error_percent"},
		{"negative sleep_window", breaker.Config{SleepWindow: -time.Second}, "sleep_window"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkValidate(t, Config{Servers: servers, Breaker: &tc.brk}, tc.wantErr)
		})
	}
}

// BenchmarkPoolRefused measures a request answered at once within Serve:
// by an open breaker, and, without breakers, by the pipeline for a server
// whose connections are down (what a breaker's refusal replaces).
func BenchmarkPoolRefused(b *testing.B) {
	for _, bc := range []struct {
		name string
		brk  *breaker.Config
	}{{"breaker-open", &testBreaker}, {"server-down", nil}} {
		b.Run(bc.name, func(b *testing.B) {
			m := startKillable(b)
			clk := &testClock{}
			p := newPool(b, Config{Servers: []Server{{Addr: m.addr}}, Breaker: bc.brk, clock: clk.now})
			req := get("k")
			m.kill()
			testproc.WaitFor(b, "requests refused at once", func() bool {
				_, async, _ := call(b, p, req)
				return !async && (bc.brk == nil || breakerOf(b, p, 0) == breaker.Open)
			})
			w := &benchWaiter{ch: make(chan struct{}, 1)}
			out := make([]byte, 0, 128)
			b.ReportAllocs()
			for b.Loop() {
				if _, async := p.Serve(req, out[:0], w); async {
					<-w.ch
				}
			}
		})
	}
}

// hookClock is testClock whose next reading first runs a hook, once: the
// test's way to act between two steps of a request inside Serve.
type hookClock struct {
	testClock
	hook atomic.Pointer[func()]
}

func (c *hookClock) now() time.Duration {
	if f := c.hook.Swap(nil); f != nil {
		(*f)()
	}
	return c.testClock.now()
}

// TestBreakerRaceFailover, on both transports: once b's sleep window is
// over, placement no longer sees its breaker refusing and puts b's keys on
// b; if another request becomes the half-open probe before this one's
// admission (the clock's hook, run by placement's reading), the breaker
// refuses it there. With a failover server the request goes to the key's
// failover server, as placement would have sent it a moment later, not
// answered "breaker open"; a multi-get's part of b too.
func TestBreakerRaceFailover(t *testing.T) {
	for _, tr := range []Transport{TransportGoroutine, TransportLoop} {
		t.Run(string(tr), func(t *testing.T) {
			a, b, f := startMemcached(t), startMemcached(t), startMemcached(t)
			clk := &hookClock{}
			brk := testBreaker
			p := newPool(t, Config{Servers: []Server{{Addr: a}, {Addr: b}}, Failover: []Server{{Addr: f}},
				Transport: tr, Timeout: 10 * time.Second, Breaker: &brk, clock: clk.now})
			send := sender(t, p, tr)
			aKey, bKeys := keysOn(p, 0, 1, "race:")[0], keysOn(p, 1, 3, "race:")
			df := dialDirect(t, f)
			for _, k := range append([]string{aKey}, bKeys...) {
				if got := send(set(k, "v-"+k)); string(got) != memcache.ReplyStored {
					t.Fatalf("set %s: %q", k, got)
				}
				if got := df.do(set(k, "f-"+k)); string(got) != memcache.ReplyStored {
					t.Fatalf("set %s on the failover server: %q", k, got)
				}
			}
			var parser memcache.Parser
			var ms memcache.Request // a base64 key of b: placed by its decoded bytes
			var b64 string
			for i := 0; ; i++ {
				raw := fmt.Sprintf("race key %d\x01", i)
				if p.pick.Pick([]byte(raw)) == 1 {
					b64 = base64.StdEncoding.EncodeToString([]byte(raw))
					break
				}
			}
			if _, err := parser.Parse([]byte("ms "+b64+" 1 b\r\nm\r\n"), &ms); err != nil {
				t.Fatal(err)
			}

			// b is up, and its breaker open (its requests failed, as the
			// pool reports them), then past its sleep window.
			testproc.WaitFor(t, "b's connections to be ready", func() bool { return p.pipe.Ready(1) > 0 })
			bb := p.servers[1].brk
			for range testBreaker.MinRequests {
				bb.Done(bb.Allow(), false)
			}
			if got := breakerOf(t, p, 1); got != breaker.Open {
				t.Fatalf("b's breaker %v, want open", got)
			}
			cases := []struct {
				name string
				req  *memcache.Request
				want string
			}{
				{"get", get(bKeys[0]), hit(bKeys[0], "f-"+bKeys[0])},
				{"set", set(bKeys[1], "raced"), memcache.ReplyStored},
				{"multi-get, a part on b", get(aKey, bKeys[2]), value(aKey, "v-"+aKey) + hit(bKeys[2], "f-"+bKeys[2])},
				{"meta, base64 key", &ms, "HD\r\n"},
			}
			for _, tc := range cases {
				clk.advance(testBreaker.SleepWindow)
				probes := make(chan breaker.Ticket, 1)
				race := func() { probes <- bb.Allow() } // another request's probe
				clk.hook.Store(&race)
				got := send(tc.req)
				var probe breaker.Ticket
				select {
				case probe = <-probes:
				default:
				}
				if !probe.Probe() {
					t.Fatalf("%s: no probe was let through between placement and admission", tc.name)
				}
				if string(got) != tc.want {
					t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
				}
				bb.Done(probe, false) // open for another window
			}
			if got := df.do(get(bKeys[1])); string(got) != hit(bKeys[1], "raced") {
				t.Errorf("the raced set on the failover server: %q", got)
			}
			if got := dialDirect(t, f).raw([]byte("mg " + b64 + " b v\r\n")); string(got) != "VA 1\r\nm\r\n" {
				t.Errorf("the raced ms on the failover server: %q", got)
			}
			if got := dialDirect(t, b).do(get(bKeys[1])); string(got) != hit(bKeys[1], "v-"+bKeys[1]) {
				t.Errorf("b's copy of the raced set's key: %q, want the value from before", got)
			}
		})
	}
}
