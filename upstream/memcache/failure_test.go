package memcache

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fae-sidecar/fae/internal/testproc"
	"github.com/fae-sidecar/fae/proto/memcache"
)

func isServerError(b []byte) bool { return bytes.HasPrefix(b, []byte("SERVER_ERROR ")) }

func stat(p *Pool, name string) uint64 {
	var v uint64
	p.Stats(func(n string, x uint64) {
		if n == name {
			v = x
		}
	})
	return v
}

// TestDeadServer: a server that refuses connections fails its keys at once
// and the other servers go on serving.
func TestDeadServer(t *testing.T) {
	live, dead := startMemcached(t), freeAddr(t)
	// A long Timeout: a refused server must fail well before it, which no
	// scheduling stall on a busy machine passes for.
	p := newPool(t, Config{Servers: []Server{{Addr: live}, {Addr: dead}}, Timeout: 10 * time.Second})
	liveKeys, deadKeys := keysOn(p, 0, 4, "d"), keysOn(p, 1, 8, "d")
	for _, k := range liveKeys {
		if got := do(t, p, set(k, "v-"+k)); string(got) != memcache.ReplyStored {
			t.Fatalf("set %s on the live server: %q", k, got)
		}
	}
	wantLine := "SERVER_ERROR upstream " + dead + " connection refused\r\n"
	cases := []struct {
		name string
		req  *memcache.Request
		want string
	}{
		{"get", get(deadKeys[0]), wantLine},
		{"set", set(deadKeys[1], "v"), wantLine},
		{"noreply set", noreply(set(deadKeys[1], "v")), ""},
		{"multi-get all dead", get(deadKeys...), wantLine},
		{
			"multi-get mixed: dead keys are misses",
			get(liveKeys[0], deadKeys[0], liveKeys[1], deadKeys[1]),
			"VALUE " + liveKeys[0] + " 0 " + itoa(len("v-"+liveKeys[0])) + "\r\nv-" + liveKeys[0] + "\r\n" +
				"VALUE " + liveKeys[1] + " 0 " + itoa(len("v-"+liveKeys[1])) + "\r\nv-" + liveKeys[1] + "\r\nEND\r\n",
		},
		{"live get", get(liveKeys[2]), "VALUE " + liveKeys[2] + " 0 " + itoa(len("v-"+liveKeys[2])) + "\r\nv-" + liveKeys[2] + "\r\n" + "END\r\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, _, took := call(t, p, tc.req)
			if string(got) != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			if took > 5*time.Second {
				t.Errorf("took %v; a refused server must fail well before Timeout", took)
			}
		})
	}
	testproc.WaitFor(t, "servers_up = 1", func() bool { return stat(p, "servers_up") == 1 })
	if stat(p, "errors") == 0 {
		t.Errorf("errors not counted")
	}
}

// TestHungServer: a server that accepts and then misbehaves costs its keys
// one Timeout, then fails them fast; other servers are not held up; the
// pool recovers when the server does.
func TestHungServer(t *testing.T) {
	const timeout = 300 * time.Millisecond
	// halfValue answers version until the first get, which gets half a
	// VALUE; then the whole server hangs, as a stuck process would.
	var stuck atomic.Bool
	halfValue := func(nc net.Conn) {
		br := bufio.NewReader(nc)
		for {
			line, err := br.ReadString('\n')
			if err != nil || stuck.Load() {
				hang(nc)
				return
			}
			switch {
			case strings.HasPrefix(line, "get "):
				stuck.Store(true)
				nc.Write([]byte("VALUE x 0 10\r\nabc"))
			case line == "version\r\n":
				nc.Write([]byte("VERSION fake\r\n"))
			}
		}
	}
	cases := []struct {
		name string
		bad  func(nc net.Conn)
	}{
		{"silent", hang},
		{"half a value", halfValue},
		{"late replies", func(nc net.Conn) {
			buf := make([]byte, 4096)
			for {
				n, err := nc.Read(buf)
				if err != nil {
					return
				}
				time.AfterFunc(3*timeout, func() {
					for range bytes.Count(buf[:n], []byte("\r\n")) {
						nc.Write([]byte("END\r\n"))
					}
				})
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			live := startMemcached(t)
			var healthy atomic.Bool
			backend := startMemcached(t)
			fake := startFake(t, func(nc net.Conn) {
				if healthy.Load() {
					relayTo(backend, healthy.Load)(nc)
					return
				}
				tc.bad(nc)
			})
			p := newPool(t, Config{Servers: []Server{{Addr: live}, {Addr: fake.Addr()}}, Timeout: timeout, HealthInterval: 50 * time.Millisecond})
			liveKey, badKeys := keysOn(p, 0, 1, "h")[0], keysOn(p, 1, 6, "h")

			// A request to the bad server is pending; the live one answers
			// meanwhile.
			r := newRecorder(t)
			start := time.Now()
			if _, async := p.Serve(get(badKeys[0]), nil, r); !async {
				t.Fatal("get on the bad server answered at once")
			}
			if got := do(t, p, get(liveKey)); string(got) != memcache.ReplyEnd {
				t.Fatalf("live server: %q", got)
			}
			if len(r.ch) != 0 {
				t.Fatal("the live server answered only after the bad one failed")
			}
			var got []byte
			select {
			case got = <-r.ch:
			case <-time.After(5 * time.Second):
				t.Fatal("no reply from the bad server")
			}
			took := time.Since(start)
			if !isServerError(got) || !strings.Contains(string(got), "timeout") {
				t.Fatalf("bad server: %q, want SERVER_ERROR … timeout", got)
			}
			if took < timeout {
				t.Errorf("bad server failed after %v, before its timeout of %v", took, timeout)
			}
			// Now known bad: its keys fail at once (within Serve), whatever
			// the connection.
			for _, k := range badKeys[1:] {
				if got, async, _ := call(t, p, get(k)); !isServerError(got) || async {
					t.Fatalf("get %s on the bad server: %q async=%v, want SERVER_ERROR at once", k, got, async)
				}
			}
			if stat(p, "timeouts") == 0 {
				t.Error("timeouts not counted")
			}

			healthy.Store(true)
			fake.CloseConns() // as if the server restarted
			testproc.WaitFor(t, "the server to come back", func() bool {
				return string(do(t, p, get(badKeys[0]))) == memcache.ReplyEnd
			})
			testproc.WaitFor(t, "servers_up = 2", func() bool { return stat(p, "servers_up") == 2 })
			// Every connection serves again (retried: on a loaded machine a
			// request may still miss the short Timeout).
			testproc.WaitFor(t, "sets on every key", func() bool {
				for _, k := range badKeys {
					if string(do(t, p, set(k, "back"))) != memcache.ReplyStored {
						return false
					}
				}
				return true
			})
		})
	}
}

// TestQueueFull: a connection's queue is bounded; past it Serve answers
// SERVER_ERROR at once instead of buffering.
func TestQueueFull(t *testing.T) {
	fake := startFake(t, hang)
	p := newPool(t, Config{Servers: []Server{{Addr: fake.Addr()}}, ConnsPerServer: 1, MaxPending: 4, Timeout: 300 * time.Millisecond})
	var recs []*recorder
	rejected := 0
	for i := range 8 {
		r := newRecorder(t)
		out, async := p.Serve(get("q"+itoa(i)), nil, r)
		if async {
			recs = append(recs, r)
			continue
		}
		if !strings.Contains(string(out), "too many pending requests") {
			t.Fatalf("request %d: %q", i, out)
		}
		rejected++
	}
	// The session's probe takes one of the four places.
	if rejected < 4 {
		t.Errorf("%d of 8 rejected with a queue of 4", rejected)
	}
	for _, r := range recs {
		select {
		case got := <-r.ch:
			if !isServerError(got) {
				t.Errorf("queued request: %q", got)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("queued request never answered")
		}
	}
	if got := stat(p, "rejected"); got != uint64(rejected) {
		t.Errorf("rejected stat %d, want %d", got, rejected)
	}
}

// TestCloseStopsEverything: Close answers what is queued, refuses what
// comes after, and leaves no goroutine behind.
func TestCloseStopsEverything(t *testing.T) {
	live := startMemcached(t)
	fake := startFake(t, hang)
	before := runtime.NumGoroutine()
	p, err := New(Config{Servers: []Server{{Addr: live}, {Addr: fake.Addr()}, {Addr: freeAddr(t)}}, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	do(t, p, set(keysOn(p, 0, 1, "c")[0], "v"))
	var recs []*recorder
	for _, k := range keysOn(p, 1, 5, "c") {
		r := newRecorder(t)
		if _, async := p.Serve(get(k), nil, r); !async {
			t.Fatalf("get %s on the hung server answered at once", k)
		}
		recs = append(recs, r)
	}
	p.Close()
	for _, r := range recs {
		select {
		case got := <-r.ch:
			if !strings.Contains(string(got), "pool closed") {
				t.Errorf("queued request after Close: %q", got)
			}
		default:
			t.Fatal("Close returned with a request unanswered")
		}
	}
	if got, async, _ := call(t, p, get("after")); async || !strings.Contains(string(got), "pool closed") {
		t.Errorf("get after Close: %q async=%v", got, async)
	}
	p.Close() // idempotent
	testproc.WaitFor(t, "goroutines to settle", func() bool { return runtime.NumGoroutine() <= before })
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestRedial, on both transports: the connections to a server that was
// killed try once more at once, then back off (here for an hour, so that
// nothing but Redial can end the wait) and fail its requests fast; once it
// is started again, Redial has them dial at once and its keys are served
// again.
func TestRedial(t *testing.T) {
	for _, tr := range []Transport{TransportGoroutine, TransportLoop} {
		t.Run(string(tr), func(t *testing.T) {
			m := startKillable(t)
			var dials atomic.Int32 // attempts made
			dial := func(ctx context.Context, addr string) (net.Conn, error) {
				var d net.Dialer
				nc, err := d.DialContext(ctx, "tcp", addr)
				dials.Add(1)
				return nc, err
			}
			p := newPool(t, Config{Servers: []Server{{Addr: m.addr}}, Transport: tr, ConnsPerServer: 2,
				Dial: dial, backoff: time.Hour})
			send, conns := sender(t, p, tr), int32(2)
			if tr == TransportLoop {
				conns++ // and the loop's own connection
			}
			if got := send(set("k", "v")); string(got) != memcache.ReplyStored {
				t.Fatalf("set: %q", got)
			}
			testproc.WaitFor(t, "every connection to be ready", func() bool { return p.pipe.Ready(0) == int(conns) })

			before := dials.Load()
			m.kill()
			// A session that was ready redials at once; that attempt fails
			// (refused, or reset by the dying server) and the connection
			// waits its backoff, failing requests fast.
			testproc.WaitFor(t, "every connection to try once more", func() bool {
				return dials.Load() >= before+conns && p.pipe.Ready(0) == 0
			})
			if got := send(get("k")); !isServerError(got) {
				t.Fatalf("get while the server is gone: %q, want its SERVER_ERROR line", got)
			}

			m.start()
			if n := dials.Load() - before; n != conns {
				t.Fatalf("%d attempts since the kill, want %d: one per connection, then its backoff", n, conns)
			}
			p.Redial()
			testproc.WaitFor(t, "the server's keys to be served again", func() bool {
				got := send(set("k", "back"))
				if string(got) != memcache.ReplyStored && !isServerError(got) {
					t.Fatalf("set after Redial: %q", got)
				}
				return string(got) == memcache.ReplyStored
			})
		})
	}
}
