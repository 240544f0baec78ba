package server

import "testing"

// "stats NAME" answers what Config.SubStats[NAME] (or SubStatsText[NAME])
// reports; other names are still refused as memcached refuses them.
func TestSubStats(t *testing.T) {
	addr, _ := start(t, Config{SubStats: map[string]func(func(string, uint64)){
		"mongo": func(add func(string, uint64)) {
			add("mongo:users:0:calls", 3)
			add("mongo:users:1:calls", 0)
		},
	}, SubStatsText: map[string]func(func(string, string)){
		"pools": func(add func(string, string)) {
			add("pool:users:10.0.0.5:11211:breaker", "open")
			add("pool:users:10.0.0.5:11211:breaker_opens", "2")
		},
	}}, &gateHandler{})
	c, r := dial(t, addr)
	for _, tc := range []struct{ req, want string }{
		{"stats mongo\r\n", "STAT mongo:users:0:calls 3\r\nSTAT mongo:users:1:calls 0\r\nEND\r\n"},
		{"stats pools\r\n", "STAT pool:users:10.0.0.5:11211:breaker open\r\nSTAT pool:users:10.0.0.5:11211:breaker_opens 2\r\nEND\r\n"},
		{"stats mongos\r\n", "ERROR\r\n"},
	} {
		if _, err := c.Write([]byte(tc.req)); err != nil {
			t.Fatal(err)
		}
		if got := readN(t, r, len(tc.want)); got != tc.want {
			t.Errorf("%q: got %q, want %q", tc.req, got, tc.want)
		}
	}
}
