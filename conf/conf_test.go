package conf

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDefaults(t *testing.T) {
	c, err := Parse(nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:11211" || c.MaxKeyLen != 250 || c.MaxItemSize != 1<<20 || c.MaxPartial != 256<<20 {
		t.Errorf("defaults: %+v", c)
	}
	p := c.Pools[DefaultPool]
	if p == nil || p.Kind != KindLocal || p.MaxBytes != 64<<20 {
		t.Errorf("default pool: %+v", p)
	}
}

// on_failure: memory is accepted on a memcache pool with a data_dir.
func TestOnFailureMemory(t *testing.T) {
	c := &Config{DataDir: "/var/lib/faed", Pools: map[string]*Pool{
		DefaultPool: {Kind: KindMemcache, Servers: []string{"127.0.0.1:11311"}, OnFailure: OnFailureMemory},
	}}
	c.Defaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestFull(t *testing.T) {
	c, err := Load("testdata/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	u := c.Pools["users"]
	if u.Kind != KindMemcache || u.Timeout.D() != 200*time.Millisecond || *u.AllowFlush || u.ConnsPerServer != 2 || u.OnFailure != OnFailureFail {
		t.Errorf("users pool: %+v", u)
	}
	if c.MaxItemSize != 2<<20 || c.MaxPartial != 64<<20 || c.IdleTimeout.D() != 30*time.Second {
		t.Errorf("sizes: %+v", c)
	}
	if want := (Breaker{MinRequests: 20, ErrorPercent: 50, SleepWindow: Duration(time.Second), Window: Duration(10 * time.Second)}); u.Breaker == nil || *u.Breaker != want {
		t.Errorf("users breaker: %+v, want %+v", u.Breaker, want)
	}
	s, err := ParseServer(u.Servers[1])
	if err != nil || s.Addr != "127.0.0.1:11401" || s.Weight != 3 {
		t.Errorf("server: %+v %v", s, err)
	}
}

// TestBreakerDefaults: a breaker is off unless set, and "breaker: {}" takes
// hystrix's rules.
func TestBreakerDefaults(t *testing.T) {
	for _, tc := range []struct {
		name string
		yaml string
		want *Breaker
	}{
		{"unset: off", "", nil},
		{"empty: hystrix's", "breaker: {}", &Breaker{MinRequests: 20, ErrorPercent: 50, SleepWindow: Duration(5 * time.Second), Window: Duration(10 * time.Second)}},
		{"partly set", "breaker: {sleep_window: 1s}", &Breaker{MinRequests: 20, ErrorPercent: 50, SleepWindow: Duration(time.Second), Window: Duration(10 * time.Second)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte("pools:\n  default:\n    servers: [\"127.0.0.1:11400\"]\n    " + tc.yaml + "\n"))
			if err != nil {
				t.Fatal(err)
			}
			got := c.Pools[DefaultPool].Breaker
			if (got == nil) != (tc.want == nil) || got != nil && *got != *tc.want {
				t.Fatalf("breaker %+v, want %+v", got, tc.want)
			}
		})
	}
}

// Each invalid fixture must be refused with an error naming its field.
func TestInvalid(t *testing.T) {
	want := map[string]string{
		"bad_listen.yaml":                "listen:",
		"bad_kind.yaml":                  "pools.default.kind",
		"memcache_no_servers.yaml":       "pools.default.servers",
		"server_no_port.yaml":            "pools.default.servers[0]",
		"bad_weight.yaml":                "pools.default.servers[0]",
		"route_unknown_pool.yaml":        "routes[0].pool",
		"bad_size.yaml":                  "parsec",
		"bad_duration.yaml":              "soon",
		"unknown_field.yaml":             "listn",
		"key_too_long.yaml":              "max_key_len",
		"local_too_small.yaml":           "pools.default.max_bytes",
		"partial_too_small.yaml":         "max_partial",
		"l1_no_ttl.yaml":                 "pools.default.l1.ttl",
		"bad_distribution.yaml":          "pools.default.distribution",
		"bad_failover.yaml":              "pools.default.failover[1]",
		"hash_skip_prefix_too_long.yaml": "pools.default.hash_skip_prefix",
		"admin_not_loopback.yaml":        "admin_allow_remote",
		"idgen_worker_out_of_range.yaml": "idgen.worker_id",
		"data_dir_relative.yaml":         "data_dir",
		"lcache_too_small.yaml":          "lcache.max_bytes",
		"dlog_file_too_small.yaml":       "dlog.max_file_size",
		"dlog_negative_sync.yaml":        "dlog.sync_interval",
		"thrift_frame_too_small.yaml":    "max_thrift_frame",
		"peers_no_secret.yaml":           "peers.secret:",
		"peers_both_secrets.yaml":        "peers.secret:",
		"peers_short_secret.yaml":        "peers.secret:",
		"peers_secret_file_missing.yaml": "peers.secret_file:",
		"peers_bad_static.yaml":          "peers.static[1]",
		"peers_bad_heartbeat.yaml":       "peers.heartbeat",
		"peers_bad_down_after.yaml":      "peers.down_after",
		"peers_group_not_multicast.yaml": "peers.multicast.group",
		"peers_group_no_port.yaml":       "peers.multicast.group",
		"peers_listen_client_port.yaml":  "peers.listen",
		"peers_listen_unspecified.yaml":  "peers.listen",
		"cluster_no_peers.yaml":          "pools.shared.kind",
		"cluster_bad_replicas.yaml":      "pools.shared.replicas",
		"cluster_with_servers.yaml":      "pools.shared:",
		"replicas_not_cluster.yaml":      "pools.default.replicas",
		"admin_remote_no_token.yaml":     "admin_token:",
		"admin_token_short.yaml":         "admin_token:",
		"admin_token_and_file.yaml":      "admin_token_file:",
		"admin_token_file_missing.yaml":  "admin_token_file:",
		"unix_relative.yaml":             "listen_unix:",
		"unix_mode_not_octal.yaml":       "0669",
		"unix_mode_too_big.yaml":         "01777",
		"bad_log_format.yaml":            "log_format:",
		"bad_log_level.yaml":             "log_level:",
		"on_failure_no_data_dir.yaml":    "pools.default.on_failure: memory keeps a spool",
		"on_failure_bad.yaml":            "pools.default.on_failure: \"retry\"",
		"on_failure_local.yaml":          "pools.default.on_failure: memory is for memcache pools",
		"breaker_bad_percent.yaml":       "pools.default.breaker.error_percent",
		"breaker_bad_min_requests.yaml":  "pools.default.breaker.min_requests",
		"breaker_bad_sleep_window.yaml":  "pools.default.breaker.sleep_window",
		"breaker_short_window.yaml":      "pools.default.breaker.window",
		"breaker_not_memcache.yaml":      "pools.default.breaker:",
		"breaker_unknown_field.yaml":     "min_request",
	}
	refused(t, "testdata/invalid", want)
}

// refused loads each fixture of dir, which want lists by file name with a
// part of its error, and checks that it is refused with that error.
func refused(t *testing.T, dir string, want map[string]string) {
	t.Helper()
	files, _ := filepath.Glob(dir + "/*.yaml")
	if len(files) != len(want) {
		t.Fatalf("%s: %d fixtures, %d expectations", dir, len(files), len(want))
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			_, err := Load(f)
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), want[name]) {
				t.Errorf("error %q does not name %q", err, want[name])
			}
		})
	}
}

func TestAdminLoopback(t *testing.T) {
	for _, tc := range []struct {
		name, admin string
		allowRemote bool
		token       string
		ok          bool
	}{
		{name: "ipv4 loopback", admin: "127.0.0.1:11299", ok: true},
		{name: "other 127/8", admin: "127.0.0.9:11299", ok: true},
		{name: "ipv6 loopback", admin: "[::1]:11299", ok: true},
		{name: "localhost", admin: "localhost:11299", ok: true},
		{name: "every interface", admin: "0.0.0.0:11299"},
		{name: "empty host", admin: ":11299"},
		{name: "lan address", admin: "10.0.0.5:11299"},
		{name: "host name", admin: "admin.example:11299"},
		{name: "lan address allowed, no token", admin: "10.0.0.5:11299", allowRemote: true},
		{name: "lan address allowed", admin: "10.0.0.5:11299", allowRemote: true, token: "0123456789abcdef", ok: true},
		{name: "loopback with a token", admin: "127.0.0.1:11299", token: "0123456789abcdef", ok: true},
		{name: "token too short", admin: "127.0.0.1:11299", token: "secret"},
		{name: "token with a space", admin: "127.0.0.1:11299", token: "0123456789 abcdef"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &Config{Admin: tc.admin, AdminAllowRemote: tc.allowRemote, AdminToken: tc.token}
			c.Defaults()
			err := c.Validate()
			if (err == nil) != tc.ok {
				t.Errorf("Validate() = %v, want ok %v", err, tc.ok)
			}
		})
	}
}

func TestWarnings(t *testing.T) {
	no := false
	for _, tc := range []struct {
		name   string
		listen string
		pools  map[string]*Pool
		want   string // a substring of the one warning; "" for none
	}{
		{name: "loopback", listen: "127.0.0.1:11211"},
		{name: "embedded store on all interfaces", listen: "0.0.0.0:11211", want: "pools default"},
		{name: "memcache pool allowing flush", listen: "10.0.0.5:11211",
			pools: map[string]*Pool{"default": {Kind: KindMemcache, Servers: []string{"10.0.0.6:11211"}}}, want: "allow_flush: false"},
		{name: "memcache pool refusing flush", listen: "10.0.0.5:11211",
			pools: map[string]*Pool{"default": {Kind: KindMemcache, Servers: []string{"10.0.0.6:11211"}, AllowFlush: &no}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &Config{Listen: tc.listen, Pools: tc.pools}
			c.Defaults()
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
			w := c.Warnings()
			switch {
			case tc.want == "" && len(w) > 0:
				t.Errorf("warnings %q, want none", w)
			case tc.want != "" && (len(w) != 1 || !strings.Contains(w[0], tc.want)):
				t.Errorf("warnings %q, want one with %q", w, tc.want)
			}
		})
	}
}

// Every distribution a memcache pool knows is accepted as written.
func TestDistributions(t *testing.T) {
	for _, d := range []string{DistRing, DistKetama, DistTwemproxy, DistConsistent, DistConsistentMD5} {
		t.Run(d, func(t *testing.T) {
			c, err := Parse([]byte("pools:\n  default:\n    kind: memcache\n    servers: [\"127.0.0.1:11400\"]\n    distribution: " + d + "\n"))
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Pools[DefaultPool].Distribution; got != d {
				t.Errorf("distribution %q, want %q", got, d)
			}
		})
	}
}

// hash_skip_prefix is kept as written on a memcache pool, up to
// max_key_len bytes, and refused on a local pool, which places no keys.
func TestHashSkipPrefix(t *testing.T) {
	const memcachePool = "pools:\n  default:\n    kind: memcache\n    servers: [\"127.0.0.1:11400\"]\n"
	cases := []struct {
		name    string
		yaml    string
		want    string
		wantErr string
	}{
		{name: "unset", yaml: memcachePool, want: ""},
		{name: "php prefix", yaml: memcachePool + "    hash_skip_prefix: \"app:\"\n", want: "app:"},
		{name: "max_key_len bytes", yaml: "max_key_len: 4\n" + memcachePool + "    hash_skip_prefix: \"app:\"\n", want: "app:"},
		{name: "longer than max_key_len", yaml: "max_key_len: 3\n" + memcachePool + "    hash_skip_prefix: \"app:\"\n", wantErr: "pools.default.hash_skip_prefix"},
		{name: "longer than a key", yaml: memcachePool + "    hash_skip_prefix: \"" + strings.Repeat("p", 251) + "\"\n", wantErr: "pools.default.hash_skip_prefix"},
		{name: "not a string", yaml: memcachePool + "    hash_skip_prefix: [\"app:\"]\n", wantErr: "line 5: cannot unmarshal !!seq into string"},
		{name: "local pool", yaml: "pools:\n  default:\n    kind: local\n    hash_skip_prefix: \"app:\"\n", wantErr: "hash_skip_prefix"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := parseCase(t, tc.yaml, tc.wantErr)
			if c == nil {
				return
			}
			if got := c.Pools[DefaultPool].HashSkipPrefix; got != tc.want {
				t.Errorf("hash_skip_prefix %q, want %q", got, tc.want)
			}
		})
	}
}

// parseCase parses yaml: with wantErr, it checks the error names it and
// returns nil; without, it checks there is no error and returns the config.
func parseCase(t *testing.T, yaml, wantErr string) *Config {
	t.Helper()
	c, err := Parse([]byte(yaml))
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("error %v, want one naming %q", err, wantErr)
		}
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestParseByteSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ByteSize
		ok   bool
	}{
		{in: "1048576", want: 1 << 20, ok: true},
		{in: "1MiB", want: 1 << 20, ok: true},
		{in: "64m", want: 64 << 20, ok: true},
		{in: "512KB", want: 512 << 10, ok: true},
		{in: "2G", want: 2 << 30, ok: true},
		{in: "", ok: false},
		{in: "MiB", ok: false},
		{in: "5 bananas", ok: false},
		{in: "99999999999999999999G", ok: false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseByteSize(tc.in)
			if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
				t.Errorf("got %d, %v", got, err)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("got %v", err)
	}
}

// TestReadmeConfig: the configuration file shown in the README parses and
// validates as it stands.
func TestReadmeConfig(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := bytes.Cut(readme, []byte("A configuration file"))
	if ok {
		_, rest, ok = bytes.Cut(rest, []byte("```yaml\n"))
	}
	var block []byte
	if ok {
		block, _, ok = bytes.Cut(rest, []byte("```"))
	}
	if !ok {
		t.Fatal("README.md has no yaml block after \"A configuration file\"")
	}
	cfg, err := Parse(block)
	if err != nil {
		t.Fatalf("the README's configuration: %v", err)
	}
	if len(cfg.Pools) < 2 || len(cfg.Routes) == 0 {
		t.Errorf("the README's configuration parsed to %d pools and %d routes, want its 2 pools and a route", len(cfg.Pools), len(cfg.Routes))
	}
}
