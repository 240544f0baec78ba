package memcache

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/fae-sidecar/fae/internal/hist"
	"github.com/fae-sidecar/fae/internal/testproc"
	"github.com/fae-sidecar/fae/proto/memcache"
)

// Owner names the memcached a key's set reached; Servers sees both up.
func TestOwner(t *testing.T) {
	a, b := startMemcached(t), startMemcached(t)
	p := newPool(t, Config{Servers: []Server{{Addr: a}, {Addr: b}}, Distribution: DistKetama, HashSkipPrefix: "app:"})
	for i := range 20 {
		k := fmt.Sprintf("app:k%d", i)
		if got := do(t, p, set(k, "v")); string(got) != memcache.ReplyStored {
			t.Fatalf("set %s: %q", k, got)
		}
		owner, failover := p.Owner([]byte(k))
		if failover != "" {
			t.Errorf("%s: failover %q without failover servers", k, failover)
		}
		if got := dialDirect(t, owner).do(get(k)); string(got) != "VALUE "+k+" 0 1\r\nv\r\nEND\r\n" {
			t.Errorf("%s is not on its owner %s: %q", k, owner, got)
		}
	}
	testproc.WaitFor(t, "both servers up", func() bool {
		ss := p.Servers()
		return len(ss) == 2 && ss[0].Up && ss[1].Up
	})
	for i, s := range p.Servers() {
		if s.Addr != []string{a, b}[i] || s.Failover || s.Ready < 1 {
			t.Errorf("server %d: %+v", i, s)
		}
	}
}

// A key of a server that is down is owned meanwhile by a failover server.
func TestOwnerFailover(t *testing.T) {
	live, spare := startMemcached(t), startMemcached(t)
	dead := freeAddr(t) // nothing listens there: refused
	p := newPool(t, Config{Servers: []Server{{Addr: live}, {Addr: dead}}, Failover: []Server{{Addr: spare}}})
	k := keysOn(p, 1, 1, "f")[0]
	testproc.WaitFor(t, "the dead server known down", func() bool {
		_, f := p.Owner([]byte(k))
		return f == spare
	})
	if s, _ := p.Owner([]byte(k)); s != dead {
		t.Errorf("owner %s, want %s", s, dead)
	}
	ss := p.Servers()
	if len(ss) != 3 || ss[1].Up || !ss[2].Failover || ss[2].Addr != spare {
		t.Errorf("servers %+v", ss)
	}
}

// Pending counts the requests a hung server holds, on either transport;
// Latency counts the round trips answered.
func TestPendingAndLatency(t *testing.T) {
	for _, tr := range []Transport{TransportGoroutine, TransportLoop} {
		t.Run(string(tr), func(t *testing.T) {
			live := startMemcached(t)
			// The hung server answers nothing until gone, then closes every
			// connection it has or will accept: one still being dialled
			// when the test says "gone" fails too.
			gone := make(chan struct{})
			var once sync.Once
			shut := func() { once.Do(func() { close(gone) }) }
			fake := startFake(t, func(nc net.Conn) {
				go hang(nc)
				<-gone
				nc.Close()
			})
			t.Cleanup(shut) // before the fake server's own cleanup waits for it
			p := newPool(t, Config{Servers: []Server{{Addr: live}, {Addr: fake.Addr()}}, Transport: tr, Timeout: 30 * time.Second})
			faed := loopFront(t, p, 2)
			c, slow := dialFront(t, faed), dialFront(t, faed)
			liveKeys, hungKeys := keysOn(p, 0, 10, "p"), keysOn(p, 1, 3, "p")
			for _, k := range liveKeys {
				if got := c.do(set(k, "v")); string(got) != memcache.ReplyStored {
					t.Fatalf("set %s: %q", k, got)
				}
			}
			var s hist.Snapshot
			p.Latency(&s)
			if s.Count() < uint64(len(liveKeys)) || s.Sum <= 0 {
				t.Errorf("latency: %d round trips (sum %v), want at least %d", s.Count(), s.Sum, len(liveKeys))
			}
			for _, k := range hungKeys {
				slow.send(memcache.AppendRequest(nil, get(k)))
			}
			ctx := context.Background()
			testproc.WaitFor(t, "3 requests pending", func() bool {
				n, err := p.Pending(ctx)
				return err == nil && n == len(hungKeys)
			})
			shut() // the hung server goes: its requests fail
			for range hungKeys {
				if got := slow.reply(get("x")); !isServerError(got) {
					t.Errorf("hung get: %q", got)
				}
			}
			if n, err := p.Pending(ctx); err != nil || n != 0 {
				t.Errorf("Pending after the replies: %d, %v", n, err)
			}
		})
	}
}
