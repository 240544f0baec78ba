package daemon

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/fae-sidecar/fae/admin"
	"github.com/fae-sidecar/fae/internal/testproc"
)

// memcachedConns is memcached's curr_connections at addr (the asking
// connection included).
func memcachedConns(t *testing.T, addr string) int {
	t.Helper()
	c := dial(t, addr)
	defer c.nc.Close()
	if _, err := c.nc.Write([]byte("stats\r\n")); err != nil {
		t.Fatal(err)
	}
	n := -1
	for {
		line, err := c.br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if v, ok := strings.CutPrefix(line, "STAT curr_connections "); ok {
			n, _ = strconv.Atoi(strings.TrimSpace(v))
		}
		if line == "END\r\n" {
			return n
		}
	}
}

// Reloads that add and remove servers, pools, routes and an L1, while
// clients pipeline sets and gets on connections opened before the first
// reload: no request fails, no connection drops, every reply is a reply to
// what was asked; the pools left behind close once drained.
func TestReloadUnderLoad(t *testing.T) {
	m1, m2 := testproc.StartMemcached(t), testproc.StartMemcached(t)
	base := memcachedConns(t, m2)
	configs := []string{
		fmt.Sprintf("pools:\n  users: {kind: memcache, servers: [%q]}\nroutes: [{prefix: \"u:\", pool: users}]\n", m1),
		fmt.Sprintf("pools:\n  users: {kind: memcache, servers: [%q, %q]}\nroutes: [{prefix: \"u:\", pool: users}]\n", m1, m2),
		fmt.Sprintf("pools:\n  users: {kind: memcache, servers: [%q, %q], l1: {max_bytes: 1MiB, ttl: 1s}}\n"+
			"  vip: {kind: memcache, servers: [%q], transport: goroutine}\n"+
			"routes: [{prefix: \"u:\", pool: users}, {prefix: \"u:vip:\", pool: vip}]\n", m1, m2, m2),
		fmt.Sprintf("pools:\n  default: {kind: local, max_bytes: 32MiB}\n  users: {kind: memcache, servers: [%q]}\n"+
			"routes: [{prefix: \"u:\", pool: users}, {prefix: \"x:\", pool: users}]\n", m1),
	}
	f := startFaed(t, configs[0])
	idle := dial(t, f.addr) // opened before the reloads, used after them

	const clients = 6
	var ops, failures atomic.Int64
	var firstErr atomic.Pointer[string]
	fail := func(format string, a ...any) {
		failures.Add(1)
		msg := fmt.Sprintf(format, a...)
		firstErr.CompareAndSwap(nil, &msg)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range clients {
		c := dial(t, f.addr)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				prefix := []string{"u:", "u:vip:", "l:", "x:"}[n%4]
				key := fmt.Sprintf("%sc%d-k%d", prefix, i, n%50)
				val := fmt.Sprintf("c%d-%d", i, n)
				// A set and a get pipelined in one write.
				req := fmt.Sprintf("set %s 0 0 %d\r\n%s\r\nget %s\r\n", key, len(val), val, key)
				if _, err := c.nc.Write([]byte(req)); err != nil {
					fail("client %d write: %v", i, err)
					return
				}
				if got, err := c.read(false); err != nil || got != "STORED\r\n" {
					fail("client %d set %s: %q %v", i, key, got, err)
					return
				}
				got, err := c.read(true)
				if err != nil {
					fail("client %d get %s: %v", i, key, err)
					return
				}
				// A key may move to another server on a reload (and back):
				// a miss, or a value this client wrote, are both right.
				if got != "END\r\n" && !strings.HasPrefix(got, "VALUE "+key+" 0 ") {
					fail("client %d get %s: %q", i, key, got)
					return
				}
				if rest, ok := strings.CutPrefix(got, "VALUE "+key+" 0 "); ok {
					if _, v, _ := strings.Cut(rest, "\r\n"); !strings.HasPrefix(v, fmt.Sprintf("c%d-", i)) {
						fail("client %d get %s: %q is not its value", i, key, got)
						return
					}
				}
				ops.Add(2)
			}
		}()
	}

	const reloads = 16
	for r := 1; r <= reloads; r++ {
		before := ops.Load()
		testproc.WaitFor(t, "the load to go on", func() bool { return ops.Load() >= before+400 || failures.Load() > 0 })
		f.setNext(configs[r%len(configs)])
		var res admin.Reloaded
		if status := f.api("POST", "/reload", "", &res); status != 200 {
			t.Fatalf("reload %d: status %d", r, status)
		}
	}
	before := ops.Load()
	testproc.WaitFor(t, "the load to go on after the last reload", func() bool { return ops.Load() >= before+400 || failures.Load() > 0 })
	close(stop)
	wg.Wait()
	if n := failures.Load(); n > 0 {
		t.Fatalf("%d failures under reload, first: %s", n, *firstErr.Load())
	}
	t.Logf("%d requests over %d reloads, no failure", ops.Load(), reloads)
	if got, err := idle.do("set u:idle 0 0 1\r\nx\r\n"); err != nil || got != "STORED\r\n" {
		t.Errorf("a connection opened before the reloads: %q %v", got, err)
	}
	var snap admin.Snapshot
	f.api("GET", "/stats", "", &snap)
	if snap.Config.Reloads != reloads || snap.Config.ReloadFailures != 0 {
		t.Errorf("reloads %d, failures %d", snap.Config.Reloads, snap.Config.ReloadFailures)
	}
	// The last configuration uses m1 only: the pools that used m2 close
	// once their requests are answered.
	testproc.WaitFor(t, "the retired pools' connections to m2 to close", func() bool { return memcachedConns(t, m2) == base })
}

// A configuration that does not validate, or that changes what only a
// restart changes, is refused with the reason; the one in force stays.
func TestReloadRefused(t *testing.T) {
	m1 := testproc.StartMemcached(t)
	good := fmt.Sprintf("pools:\n  users: {kind: memcache, servers: [%q]}\nroutes: [{prefix: \"u:\", pool: users}]\n", m1)
	f := startFaed(t, good)
	c := dial(t, f.addr)
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{name: "invalid", yaml: "pools:\n  users: {kind: memcache, servers: [\"nowhere\"]}\nroutes: [{prefix: \"u:\", pool: nope}]\n",
			want: []string{"pools.users.servers[0]: ", "routes[0].pool: "}},
		{name: "unknown field", yaml: good + "max_conn: 5\n", want: []string{"field max_conn not found"}},
		{name: "restart only", yaml: good + "max_key_len: 200\nlisten_unix: /run/faed/faed.sock\n",
			want: []string{"listen_unix: changes only on restart (in force \"\", file \"/run/faed/faed.sock\")", "max_key_len: changes only on restart (in force 250, file 200)"}},
		{name: "peers only on restart", yaml: good + "peers: {listen: \"127.0.0.2:1\", secret: \"0123456789abcdef\"}\n",
			want: []string{"peers: changes only on restart"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.setNext(tc.yaml)
			var e struct {
				Error    string
				Problems []string
			}
			if status := f.api("POST", "/reload", "", &e); status != 400 {
				t.Fatalf("status %d: %+v", status, e)
			}
			all := e.Error + "\n" + strings.Join(e.Problems, "\n")
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("refusal %q lacks %q", all, w)
				}
			}
			if got, err := c.do("set u:k 0 0 1\r\nx\r\n"); err != nil || got != "STORED\r\n" {
				t.Errorf("after a refused reload: %q %v", got, err)
			}
			var pools []admin.Pool
			f.api("GET", "/pools", "", &pools)
			if len(pools) != 2 || pools[1].Name != "users" || pools[1].Servers[0].Addr != m1 {
				t.Errorf("pools after a refused reload: %+v", pools)
			}
		})
	}
	var snap admin.Snapshot
	f.api("GET", "/stats", "", &snap)
	if snap.Config.ReloadFailures != 4 || snap.Config.Reloads != 0 || !strings.Contains(snap.Config.LastError, "changes only on restart") {
		t.Errorf("config state %+v", snap.Config)
	}
	if !strings.Contains(f.log.String(), "reload refused") {
		t.Error("the refusal is not logged")
	}
}

// A pool's mode lasts across reloads, also when the pool is rebuilt.
func TestModeAcrossReload(t *testing.T) {
	m1, m2 := testproc.StartMemcached(t), testproc.StartMemcached(t)
	cfg := func(servers ...string) string {
		return fmt.Sprintf("pools:\n  users: {kind: memcache, servers: [%s]}\nroutes: [{prefix: \"u:\", pool: users}]\n", `"`+strings.Join(servers, `", "`)+`"`)
	}
	f := startFaed(t, cfg(m1))
	c := dial(t, f.addr)
	if got, _ := c.do("set u:k 0 0 1\r\nx\r\n"); got != "STORED\r\n" {
		t.Fatalf("set: %q", got)
	}
	if status := f.api("POST", "/pools/users/mode", `{"mode":"readonly"}`, nil); status != 200 {
		t.Fatalf("mode: %d", status)
	}
	check := func(when string) {
		t.Helper()
		if got, _ := c.do("set u:k 0 0 1\r\ny\r\n"); got != "SERVER_ERROR pool is read-only\r\n" {
			t.Errorf("%s: set %q", when, got)
		}
		if got, _ := c.do("set other 0 0 1\r\ny\r\n"); got != "STORED\r\n" {
			t.Errorf("%s: set on the default pool %q", when, got)
		}
		if got, _ := c.do("get u:k\r\n"); got != "VALUE u:k 0 1\r\nx\r\nEND\r\n" && got != "END\r\n" {
			t.Errorf("%s: get %q", when, got)
		}
	}
	check("read-only")
	f.setNext(cfg(m1, m2)) // users rebuilt
	if status := f.api("POST", "/reload", "", nil); status != 200 {
		t.Fatalf("reload: %d", status)
	}
	check("after the reload")
	var pools []admin.Pool
	f.api("GET", "/pools", "", &pools)
	if pools[1].Mode != "readonly" {
		t.Errorf("mode after reload %q", pools[1].Mode)
	}
	f.api("POST", "/pools/users/mode", `{"mode":"normal"}`, nil)
	if got, _ := c.do("set u:k 0 0 1\r\nz\r\n"); got != "STORED\r\n" {
		t.Errorf("back to normal: %q", got)
	}
}

// /stats and /ring read the running pools: the key's server holds it.
func TestStatsAndRing(t *testing.T) {
	m1, m2 := testproc.StartMemcached(t), testproc.StartMemcached(t)
	f := startFaed(t, fmt.Sprintf("pools:\n  users: {kind: memcache, servers: [%q, %q], l1: {max_bytes: 1MiB, ttl: 10s}, breaker: {}}\nroutes: [{prefix: \"u:\", pool: users}]\n", m1, m2))
	c := dial(t, f.addr)
	for i := range 20 {
		k := fmt.Sprintf("u:%d", i)
		if got, _ := c.do("set " + k + " 0 0 1\r\nv\r\n"); got != "STORED\r\n" {
			t.Fatalf("set %s: %q", k, got)
		}
		c.do("get " + k + "\r\n")
		c.do("get " + k + "\r\n") // an L1 hit
		var o admin.Owner
		f.api("GET", "/ring?key="+k, "", &o)
		if o.Pool != "users" || o.Route != "u:" || (o.Server != m1 && o.Server != m2) {
			t.Fatalf("ring %s: %+v", k, o)
		}
		if got, _ := dial(t, o.Server).do("get " + k + "\r\n"); got != "VALUE "+k+" 0 1\r\nv\r\nEND\r\n" {
			t.Errorf("%s is not on %s: %q", k, o.Server, got)
		}
	}
	var snap struct {
		Server map[string]uint64
		Pools  []struct {
			Name    string
			Stats   map[string]uint64
			Servers []admin.Upstream
			Latency *struct{ Count uint64 }
		}
	}
	f.api("GET", "/stats", "", &snap)
	u := snap.Pools[1]
	if u.Name != "users" || len(u.Servers) != 2 || !u.Servers[0].Up || u.Latency == nil || u.Latency.Count < 40 {
		t.Errorf("users in /stats: %+v", u)
	}
	if u.Stats["l1_hits"] < 20 || u.Stats["cmd_set"] != 20 {
		t.Errorf("users stats %v", u.Stats)
	}
	if snap.Server["curr_connections"] < 1 || snap.Server["total_connections"] < 1 {
		t.Errorf("server %v", snap.Server)
	}
	if b := u.Servers[1].Breaker; b == nil || b.State != "closed" {
		t.Errorf("users' second server's breaker in /stats: %+v", b)
	}
	// "stats pools": each server's state, breaker included.
	if _, err := c.nc.Write([]byte("stats pools\r\n")); err != nil {
		t.Fatal(err)
	}
	got, err := c.read(true)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"STAT pool:users:" + m1 + ":up 1\r\n", "STAT pool:users:" + m2 + ":breaker closed\r\n",
		"STAT pool:users:" + m2 + ":breaker_opens 0\r\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("stats pools lacks %q:\n%s", want, got)
		}
	}
}

// A reload changes the connection limits for the next connection; the
// connections open stay.
func TestReloadLimits(t *testing.T) {
	f := startFaed(t, "")
	a := dial(t, f.addr)
	// a is served before b connects: each event loop accepts on its own
	// listener, so two connections made one after the other may be
	// accepted in either order.
	if got, err := a.do("version\r\n"); err != nil || !strings.HasPrefix(got, "VERSION ") {
		t.Fatalf("version: %q %v", got, err)
	}
	f.setNext("max_conns: 1\nidle_timeout: 1h\n")
	if status := f.api("POST", "/reload", "", nil); status != 200 {
		t.Fatalf("reload: %d", status)
	}
	b := dial(t, f.addr)
	if got, _ := b.read(false); got != "ERROR Too many open connections\r\n" {
		t.Errorf("a second connection over max_conns 1: %q", got)
	}
	if got, err := a.do("set k 0 0 1\r\nx\r\n"); err != nil || got != "STORED\r\n" {
		t.Errorf("the connection open before: %q %v", got, err)
	}
}

// memcached's "verbosity" sets the log level: 2 debug, 1 info, 0 the
// configured log_level again; the admin API reads it.
func TestVerbositySetsLogLevel(t *testing.T) {
	f := startFaed(t, "log_level: warn\n")
	c := dial(t, f.addr)
	for _, tc := range []struct{ cmd, want string }{
		{cmd: "verbosity 2\r\n", want: "debug"},
		{cmd: "verbosity 1\r\n", want: "info"},
		{cmd: "verbosity 0\r\n", want: "warn"},
	} {
		if got, err := c.do(tc.cmd); err != nil || got != "OK\r\n" {
			t.Fatalf("%q: %q %v", tc.cmd, got, err)
		}
		var lv struct{ Level string }
		f.api("GET", "/log/level", "", &lv)
		if lv.Level != tc.want {
			t.Errorf("after %q the level is %q, want %q", tc.cmd, lv.Level, tc.want)
		}
	}
}
