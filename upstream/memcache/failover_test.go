package memcache

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fae-sidecar/fae/internal/testproc"
	"github.com/fae-sidecar/fae/proto/memcache"
	"github.com/fae-sidecar/fae/upstream/memcache/placement"
)

// killableMemcached is a real memcached that a test can kill and start
// again on the same address.
type killableMemcached struct {
	t      testing.TB
	addr   string
	cmd    *exec.Cmd
	exited chan struct{}
}

func startKillable(t testing.TB) *killableMemcached {
	t.Helper()
	m := &killableMemcached{t: t}
	for try := 0; ; try++ {
		m.addr = freeAddr(t)
		if m.launch() {
			break
		}
		if try == 4 {
			t.Fatalf("memcached exited before accepting connections, 5 times")
		}
	}
	t.Cleanup(m.kill)
	return m
}

// start runs memcached again on m.addr and waits until it accepts
// connections.
func (m *killableMemcached) start() {
	m.t.Helper()
	if !m.launch() {
		m.t.Fatalf("memcached on %s exited before accepting connections", m.addr)
	}
}

func (m *killableMemcached) launch() bool {
	m.t.Helper()
	cmd, exited, ok := launchMemcached(m.t, m.addr)
	m.cmd, m.exited = cmd, exited
	return ok
}

// kill ends memcached with SIGKILL and reaps it; killing twice is a no-op.
func (m *killableMemcached) kill() {
	if m.cmd == nil {
		return
	}
	m.cmd.Process.Kill()
	<-m.exited
	m.cmd = nil
}

// keysAfter is keysOn with the counter first: twemproxy's 32-bit FNV
// places keys that differ only at the end close together.
func keysAfter(p *Pool, i, n int, suffix string) []string {
	var keys []string
	for j := 0; len(keys) < n; j++ {
		k := strconv.Itoa(j) + suffix
		if p.pick.Pick([]byte(k)) == i {
			keys = append(keys, k)
		}
	}
	return keys
}

// hit is memcached's reply to a get of key holding data.
func hit(key, data string) string { return value(key, data) + memcache.ReplyEnd }

// TestFailover: with failover servers, a down server's keys go to the
// failover server its key picks, the other servers' keys stay, and the
// keys come back when the server does. Without, they fail fast.
func TestFailover(t *testing.T) {
	for _, d := range []Distribution{DistRing, DistKetama, DistTwemproxy, DistConsistent, DistConsistentMD5} {
		t.Run(string(d), func(t *testing.T) {
			a, b := startMemcached(t), startKillable(t)
			f1, f2 := startMemcached(t), startMemcached(t)
			failover := []Server{{Addr: f1}, {Addr: f2}}
			p := newPool(t, Config{
				Servers:      []Server{{Addr: a}, {Addr: b.addr}},
				Failover:     failover,
				Distribution: d,
				Timeout:      time.Second,
			})
			aKeys, bKeys := keysAfter(p, 0, 20, ":fo"), keysAfter(p, 1, 20, ":fo")
			for _, k := range append(append([]string{}, aKeys...), bKeys...) {
				if got := do(t, p, set(k, "v1-"+k)); string(got) != memcache.ReplyStored {
					t.Fatalf("set %s: %q", k, got)
				}
			}
			b.kill()
			// The failover server of each of b's keys, by the same
			// distribution over the failover list.
			fpick := placement.New(d, failover)
			testproc.WaitFor(t, "b's keys to reach the failover servers", func() bool {
				return string(do(t, p, set(bKeys[0], "v2-"+bKeys[0]))) == memcache.ReplyStored
			})
			used := map[int]bool{}
			for _, k := range bKeys {
				if got := do(t, p, set(k, "v2-"+k)); string(got) != memcache.ReplyStored {
					t.Fatalf("set %s with its server down: %q", k, got)
				}
				fi := fpick.Pick([]byte(k))
				used[fi] = true
				if got := dialDirect(t, failover[fi].Addr).do(get(k)); string(got) != hit(k, "v2-"+k) {
					t.Fatalf("%s on failover[%d] directly: %q", k, fi, got)
				}
			}
			if len(used) != 2 {
				t.Errorf("b's %d keys all went to one failover server: the failover list is not hashed", len(bKeys))
			}
			// a's keys never moved, single and multi-key.
			da := dialDirect(t, a)
			for _, k := range aKeys {
				if got := do(t, p, get(k)); string(got) != hit(k, "v1-"+k) {
					t.Fatalf("get %s on the live server: %q", k, got)
				}
				if got := da.do(get(k)); string(got) != hit(k, "v1-"+k) {
					t.Fatalf("%s left its server: %q", k, got)
				}
			}
			mixed := get(aKeys[0], bKeys[0], aKeys[1], bKeys[1])
			want := value(aKeys[0], "v1-"+aKeys[0]) + value(bKeys[0], "v2-"+bKeys[0]) +
				value(aKeys[1], "v1-"+aKeys[1]) + value(bKeys[1], "v2-"+bKeys[1]) + memcache.ReplyEnd
			if got := do(t, p, mixed); string(got) != want {
				t.Fatalf("multi-get across a live, a down and the failover servers:\n got %q\nwant %q", got, want)
			}

			// b is back (empty): its keys return to it.
			b.start()
			testproc.WaitFor(t, "b's keys to come back to b", func() bool {
				return string(do(t, p, get(bKeys[0]))) == memcache.ReplyEnd
			})
			if got := do(t, p, set(bKeys[0], "v3")); string(got) != memcache.ReplyStored {
				t.Fatalf("set on b again: %q", got)
			}
			if got := dialDirect(t, b.addr).do(get(bKeys[0])); string(got) != hit(bKeys[0], "v3") {
				t.Fatalf("%s on b directly: %q", bKeys[0], got)
			}
		})
	}
}

// TestFailoverOff: without failover servers a down server's keys fail fast
// and never move.
func TestFailoverOff(t *testing.T) {
	a, b := startMemcached(t), startKillable(t)
	p := newPool(t, Config{Servers: []Server{{Addr: a}, {Addr: b.addr}}, Distribution: DistKetama, Timeout: 10 * time.Second})
	aKey, bKeys := keysOn(p, 0, 1, "off:")[0], keysOn(p, 1, 4, "off:")
	if got := do(t, p, set(aKey, "v")); string(got) != memcache.ReplyStored {
		t.Fatalf("set: %q", got)
	}
	b.kill()
	testproc.WaitFor(t, "b to be known down", func() bool { return isServerError(do(t, p, get(bKeys[0]))) })
	for _, k := range bKeys {
		got, _, took := call(t, p, set(k, "v"))
		if !isServerError(got) || !strings.Contains(string(got), b.addr) {
			t.Fatalf("set %s with its server down: %q, want SERVER_ERROR naming %s", k, got, b.addr)
		}
		if took > 5*time.Second {
			t.Errorf("took %v; a down server must fail at once, not by its 10s timeout", took)
		}
	}
	if got := do(t, p, get(aKey)); string(got) != hit(aKey, "v") {
		t.Fatalf("live server: %q", got)
	}
}

// TestFailoverStartup: while a server's first dial is in progress its keys
// wait for it rather than going to a failover server.
func TestFailoverStartup(t *testing.T) {
	a, f := startMemcached(t), startMemcached(t)
	p := newPool(t, Config{Servers: []Server{{Addr: a}}, Failover: []Server{{Addr: f}}, Timeout: time.Second})
	// Served at once after New: the connections are still dialling.
	if got := do(t, p, set("startup", "v")); string(got) != memcache.ReplyStored {
		t.Fatalf("set: %q", got)
	}
	if got := dialDirect(t, a).do(get("startup")); string(got) != hit("startup", "v") {
		t.Fatalf("key did not wait for its own server: %q", got)
	}
}

// TestFailoverPickAllocs: placing a key costs no allocation, whether its
// server is up or down.
func TestFailoverPickAllocs(t *testing.T) {
	up, down, f := startMemcached(t), freeAddr(t), startMemcached(t)
	cases := []struct {
		name   string
		server string
		want   int // the server (index in the pool) that takes the key
	}{
		{name: "up", server: up, want: 0},
		{name: "down", server: down, want: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := newPool(t, Config{Servers: []Server{{Addr: tc.server}}, Failover: []Server{{Addr: f}}})
			key := []byte("user:12345678")
			testproc.WaitFor(t, "the key to settle", func() bool {
				return p.partOf(key, path{})/p.cfg.ConnsPerServer == tc.want
			})
			if n := testing.AllocsPerRun(100, func() { p.partOf(key, path{}) }); n != 0 {
				t.Errorf("partOf allocates %v times per key, want 0", n)
			}
		})
	}
}
