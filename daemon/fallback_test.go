package daemon

import (
	"fmt"
	"testing"

	"github.com/fae-sidecar/fae/admin"
	"github.com/fae-sidecar/fae/internal/testproc"
)

// A pool with on_failure: memory: writes for a dead server are answered
// and spooled, /stats shows each server's spool, a reload that rebuilds
// the pool hands the spool to the new one, and the writes reach the server
// once it is up.
func TestFallbackAcrossReload(t *testing.T) {
	live := testproc.StartMemcached(t)
	dead := testproc.FreePort(t) // no server yet
	var dataDir string
	cfg := func(timeout string) string {
		return fmt.Sprintf("data_dir: %s\npools:\n  users: {kind: memcache, servers: [%q, %q], timeout: %s, on_failure: memory}\n"+
			"routes: [{prefix: \"u:\", pool: users}]\n", dataDir, live, dead, timeout)
	}
	dataDir = t.TempDir()
	f := startFaed(t, cfg("300ms"))
	c := dial(t, f.addr)
	var onDead []string
	for i := 0; len(onDead) < 10; i++ {
		k := fmt.Sprintf("u:%d", i)
		var o admin.Owner
		f.api("GET", "/ring?key="+k, "", &o)
		if got, err := c.do("set " + k + " 0 0 2\r\nv1\r\n"); got != "STORED\r\n" {
			t.Fatalf("set %s (on %s): %q %v", k, o.Server, got, err)
		}
		if o.Server == dead {
			onDead = append(onDead, k)
		}
	}
	spool := func() (pending uint64, open uint64, srv *admin.Spool) {
		var snap struct {
			Pools []struct {
				Name    string
				Stats   map[string]uint64
				Servers []admin.Upstream
			}
		}
		f.api("GET", "/stats", "", &snap)
		for _, p := range snap.Pools {
			if p.Name != "users" {
				continue
			}
			for _, s := range p.Servers {
				if s.Addr == dead {
					srv = s.Spool
				}
			}
			return p.Stats["spool_pending"], p.Stats["spool_open"], srv
		}
		t.Fatal("no pool users in /stats")
		return 0, 0, nil
	}
	if pending, open, srv := spool(); pending != 10 || open != 1 || srv == nil || srv.Pending != 10 {
		t.Fatalf("before the reload: spool_pending %d, spool_open %d, server %+v; want 10 pending on %s", pending, open, srv, dead)
	}

	f.setNext(cfg("400ms")) // rebuilds the pool
	if status := f.api("POST", "/reload", "", nil); status != 200 {
		t.Fatalf("reload: %d", status)
	}
	testproc.WaitFor(t, "the new pool to open the spool", func() bool {
		pending, open, _ := spool()
		return open == 1 && pending == 10
	})
	if got, _ := c.do("get " + onDead[0] + "\r\n"); got != "VALUE "+onDead[0]+" 0 2\r\nv1\r\nEND\r\n" {
		t.Errorf("get %s after the reload: %q (the new pool loaded the spool)", onDead[0], got)
	}
	testproc.StartMemcachedAt(t, dead)
	testproc.WaitFor(t, "the spool to drain", func() bool {
		pending, _, _ := spool()
		return pending == 0
	})
	m := dial(t, dead)
	for _, k := range onDead {
		if got, _ := m.do("get " + k + "\r\n"); got != "VALUE "+k+" 0 2\r\nv1\r\nEND\r\n" {
			t.Errorf("%s in memcached: %q", k, got)
		}
	}
	if _, _, srv := spool(); srv == nil || srv.Replayed != 10 {
		t.Errorf("server's spool after the replay: %+v, want 10 replayed", srv)
	}
}
