package daemon

import (
	"log/slog"
	"testing"

	"github.com/fae-sidecar/fae/conf"
	"github.com/fae-sidecar/fae/proto/memcache"
)

// A cluster pool is built over the cluster's ring; the peer port serves
// its keys from its own store and refuses the keys of other pools.
func TestClusterPoolBuilt(t *testing.T) {
	cfg, err := conf.Parse([]byte("peers:\n  listen: 127.0.0.2:11212\n  secret: \"0123456789abcdef\"\n" +
		"pools:\n  shared: {kind: cluster, replicas: 2}\nroutes:\n  - {prefix: \"c:\", pool: shared}\n"))
	if err != nil {
		t.Fatal(err)
	}
	cn, err := newClusterNet(cfg, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	defer cn.close()
	gen, _, err := build(cfg, nil, cn, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer gen.close()
	if gen.clusterOf([]byte("c:k")) == nil || gen.clusterOf([]byte("k")) != nil {
		t.Fatal("clusterOf: c:k should be the cluster pool's, k not")
	}
	d := &daemon{}
	d.gen.Store(gen)
	if o, err := d.Ring("c:k"); err != nil || o.Kind != conf.KindCluster || len(o.Owners) != 1 || o.Owners[0] != "127.0.0.2:11212" {
		t.Fatalf("Ring(c:k) = %+v, %v; want the cluster pool, owned by this sidecar alone", o, err)
	}
	serve := func(s string) string {
		var req memcache.Request
		if _, err := (&memcache.Parser{}).Parse([]byte(s), &req); err != nil {
			t.Fatal(err)
		}
		out, async := gen.peer.Serve(&req, nil, nil)
		if async {
			t.Fatalf("%q: async", s)
		}
		return string(out)
	}
	if got := serve("set c:k 0 0 1\r\nv\r\n"); got != "STORED\r\n" {
		t.Fatalf("peer port set c:k: %q", got)
	}
	if got := serve("set k 0 0 1\r\nv\r\n"); got != string(replyNotCluster) {
		t.Fatalf("peer port set k: %q", got)
	}
	if _, _, err := build(cfg, nil, nil, slog.New(slog.DiscardHandler)); err == nil {
		t.Fatal("a cluster pool built without peers")
	}
}

// A memcache pool's breaker: wired from the configuration (one per
// server), and a reload that changes it rebuilds the pool (its breakers
// start closed) while one that does not keeps it.
func TestBreakerBuildAndReload(t *testing.T) {
	parse := func(breaker string) *conf.Config {
		t.Helper()
		cfg, err := conf.Parse([]byte("pools:\n  users:\n    servers: [\"127.0.0.1:1\", \"127.0.0.1:2\"]\n" + breaker))
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	for _, tc := range []struct {
		name, from, to string
		changed        bool
	}{
		{name: "turned on", from: "", to: "    breaker: {sleep_window: 1s}\n", changed: true},
		{name: "rules changed", from: "    breaker: {sleep_window: 1s}\n", to: "    breaker: {sleep_window: 2s}\n", changed: true},
		{name: "unchanged", from: "    breaker: {sleep_window: 1s}\n", to: "    breaker: {sleep_window: 1s}\n"},
		{name: "turned off", from: "    breaker: {sleep_window: 1s}\n", to: "", changed: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prev, _, err := build(parse(tc.from), nil, nil, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			defer prev.close()
			next, ch, err := build(parse(tc.to), prev, nil, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			if changed := len(ch.Changed) == 1 && ch.Changed[0] == "users"; changed != tc.changed {
				t.Fatalf("changes %+v, want users changed: %v", ch, tc.changed)
			}
			if tc.changed {
				defer next.pools["users"].pool.Close()
			}
			for _, s := range next.pools["users"].mc.Servers() {
				if (s.Breaker != nil) != (tc.to != "") {
					t.Errorf("server %s: breaker %+v, want one: %v", s.Addr, s.Breaker, tc.to != "")
				}
			}
		})
	}
}
