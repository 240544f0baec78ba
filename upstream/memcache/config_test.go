package memcache

import "testing"

// Config.Validate names the field path of what placement refuses.
func TestDistributionValidate(t *testing.T) {
	cases := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{name: "unknown", cfg: Config{Servers: []Server{{Addr: "a:1"}}, Distribution: "modula"}, wantErr: `distribution: "modula" is not one of`},
		{name: "name outside twemproxy", cfg: Config{Servers: []Server{{Addr: "a:1", Name: "x"}}, Distribution: DistKetama}, wantErr: "servers[0].name"},
		{name: "name under consistent", cfg: Config{Servers: []Server{{Addr: "a:1", Name: "x"}}, Distribution: DistConsistentMD5}, wantErr: "servers[0].name"},
		{name: "name too long", cfg: Config{Servers: []Server{{Addr: "a:1", Name: string(make([]byte, 81))}}, Distribution: DistTwemproxy}, wantErr: "servers[0].name: point name"},
		{name: "failover bad addr", cfg: Config{Servers: []Server{{Addr: "a:1"}}, Failover: []Server{{Addr: "b"}}}, wantErr: "failover[0].addr"},
		{name: "failover is a server", cfg: Config{Servers: []Server{{Addr: "a:1"}}, Failover: []Server{{Addr: "a:1"}}}, wantErr: "failover[0].addr: a:1 is also servers[0]"},
		{name: "weight", cfg: Config{Servers: []Server{{Addr: "a:1"}, {Addr: "b:1", Weight: 101}}}, wantErr: "servers[1].weight: 101 is outside 0..100"},
		{name: "ok", cfg: Config{Servers: []Server{{Addr: "a:1", Name: "x"}}, Failover: []Server{{Addr: "b:1"}}, Distribution: DistTwemproxy}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { checkValidate(t, tc.cfg, tc.wantErr) })
	}
}
