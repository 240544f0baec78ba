package daemon

import (
	"strings"
	"testing"

	"github.com/fae-sidecar/fae/conf"
)

// A configuration with a cluster pool fails at start, naming the pool,
// until the daemon serves cluster pools.
func TestClusterPoolNotServedYet(t *testing.T) {
	cfg, err := conf.Parse([]byte("peers:\n  listen: 127.0.0.2:11212\n  secret: \"0123456789abcdef\"\n" +
		"pools:\n  shared: {kind: cluster, replicas: 2}\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = build(cfg, nil)
	if err == nil || !strings.Contains(err.Error(), "pools.shared: pool kind cluster: not served yet") {
		t.Fatalf("build: %v", err)
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
			prev, _, err := build(parse(tc.from), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer prev.close()
			next, ch, err := build(parse(tc.to), prev)
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
