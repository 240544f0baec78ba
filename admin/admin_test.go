package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fae-sidecar/fae/internal/hist"
)

const token = "0123456789abcdef0123"

// fake is a Source and a Control with fixed pools: the admin API's own
// behaviour (auth, JSON, metrics names) needs no running sidecar; the
// daemon's tests run it against a real one.
type fake struct {
	mu       sync.Mutex
	modes    map[string]string
	reloads  int
	reloadOK bool
}

func (f *fake) Snapshot() *Snapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	var h hist.H
	for _, d := range []time.Duration{50 * time.Microsecond, 80 * time.Microsecond, 2 * time.Millisecond} {
		h.Observe(int64(d))
	}
	lat := &hist.Snapshot{}
	h.AddTo(lat)
	now := time.Unix(1700000100, 0)
	return &Snapshot{
		Build:   Build{Version: "v1.2.3", Commit: "abc123", GoVersion: "go1.26", Protocol: "1.6.18"},
		Time:    now,
		Started: now.Add(-100 * time.Second), UptimeSeconds: 100,
		Config:   ConfigState{File: "/etc/faed/faed.yaml", Loaded: now, Reloads: uint64(f.reloads)},
		LogLevel: "info",
		Server:   map[string]uint64{"curr_connections": 3, "total_connections": 10, "rejected_connections": 0, "bytes_read": 100, "bytes_written": 200, "inflight": 1},
		Pools: []Pool{
			{Name: "default", Kind: "local", Mode: f.modes["default"], Default: true, Routes: []string{},
				Stats: map[string]uint64{"cmd_get": 5, "cmd_set": 2, "get_hits": 4, "get_misses": 1, "delete_hits": 1, "delete_misses": 0, "bytes": 1024, "limit_maxbytes": 64 << 20, "curr_items": 2, "evictions": 0}},
			{Name: "users", Kind: "memcache", Mode: f.modes["users"], Routes: []string{"u:"},
				Stats: map[string]uint64{"requests": 9, "errors": 1, "cmd_get": 7, "get_hits": 6, "get_misses": 1, "coalesced_gets": 2, "l1_hits": 3, "l1_misses": 4, "l1_bytes": 512, "readonly_refused": 0, "spool_pending": 5, "spool_replayed": 7},
				Servers: []Upstream{{Addr: "127.0.0.1:11400", Up: true, Ready: 2, Spool: &Spool{Pending: 5, Replayed: 7, DeadLettered: 1}, Breaker: &Breaker{State: "half_open", Opens: 2, Rejected: 40}},
					{Addr: "127.0.0.1:11401", Failover: true, Breaker: &Breaker{State: "closed"}}},
				Latency: lat},
		},
		Peers:          []Peer{{Addr: "127.0.0.3:11212", Up: true}, {Addr: "127.0.0.4:11212"}},
		BeaconsDropped: map[string]uint64{"garbage": 4, "replayed": 1},
	}
}

func (f *fake) Ring(key string) (*Owner, error) {
	if strings.HasPrefix(key, "u:") {
		return &Owner{Key: key, Pool: "users", Route: "u:", Kind: "memcache", Server: "127.0.0.1:11400"}, nil
	}
	return &Owner{Key: key, Pool: "default", Kind: "local"}, nil
}

func (f *fake) Serving() bool { return true }

func (f *fake) SetMode(pool, mode string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.modes[pool]; !ok {
		return ErrNotFound{fmt.Errorf("no pool %q", pool)}
	}
	if mode != "normal" && mode != "readonly" {
		return fmt.Errorf("mode %q: use normal or readonly", mode)
	}
	f.modes[pool] = mode
	return nil
}

func (f *fake) Reload(ctx context.Context) (*Reloaded, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.reloadOK {
		return nil, errors.Join(errors.New("config /etc/faed/faed.yaml: listen: \"x\" is not host:port"), errors.New("max_conns: must be at least 1"))
	}
	f.reloads++
	return &Reloaded{Kept: []string{"default", "users"}}, nil
}

func newTest(t *testing.T, everywhere bool) (*httptest.Server, *fake) {
	t.Helper()
	f := &fake{modes: map[string]string{"default": "normal", "users": "normal"}, reloadOK: true}
	s := New(Config{Token: token, TokenEverywhere: everywhere, Source: f, Control: f,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return ts, f
}

// call does one request and returns its status and body.
func call(t *testing.T, method, url, auth, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Every POST needs the token (401 without, 403 wrong); GETs do not, on a
// loopback address; errors are JSON with a message.
func TestAuth(t *testing.T) {
	ts, _ := newTest(t, false)
	bearer := "Bearer " + token
	for _, tc := range []struct {
		name, method, path, auth, body string
		want                           int
	}{
		{name: "healthz", method: "GET", path: "/healthz", want: 200},
		{name: "stats", method: "GET", path: "/stats", want: 200},
		{name: "metrics", method: "GET", path: "/metrics", want: 200},
		{name: "page", method: "GET", path: "/", want: 200},
		{name: "pprof", method: "GET", path: "/debug/pprof/", want: 200},
		{name: "mode without token", method: "POST", path: "/pools/users/mode", body: `{"mode":"readonly"}`, want: 401},
		{name: "mode basic auth", method: "POST", path: "/pools/users/mode", auth: "Basic YTpi", body: `{"mode":"readonly"}`, want: 401},
		{name: "mode wrong token", method: "POST", path: "/pools/users/mode", auth: "Bearer nope", body: `{"mode":"readonly"}`, want: 403},
		{name: "mode", method: "POST", path: "/pools/users/mode", auth: bearer, body: `{"mode":"readonly"}`, want: 200},
		{name: "mode unknown pool", method: "POST", path: "/pools/nope/mode", auth: bearer, body: `{"mode":"readonly"}`, want: 404},
		{name: "mode bad", method: "POST", path: "/pools/users/mode", auth: bearer, body: `{"mode":"off"}`, want: 400},
		{name: "mode bad json", method: "POST", path: "/pools/users/mode", auth: bearer, body: `{"mode":`, want: 400},
		{name: "mode unknown field", method: "POST", path: "/pools/users/mode", auth: bearer, body: `{"mod":"readonly"}`, want: 400},
		{name: "reload without token", method: "POST", path: "/reload", want: 401},
		{name: "reload", method: "POST", path: "/reload", auth: bearer, want: 200},
		{name: "level without token", method: "POST", path: "/log/level", body: `{"level":"debug"}`, want: 401},
		{name: "GET on a POST path", method: "GET", path: "/reload", want: 405},
		{name: "POST on a GET path", method: "POST", path: "/stats", auth: bearer, want: 405},
		{name: "POST on a GET path without token", method: "POST", path: "/stats", want: 401},
		{name: "unknown", method: "GET", path: "/nope", want: 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := call(t, tc.method, ts.URL+tc.path, tc.auth, tc.body)
			if status != tc.want {
				t.Fatalf("%s %s: %d %s, want %d", tc.method, tc.path, status, body, tc.want)
			}
			if status >= 400 {
				var e apiError
				if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error == "" {
					t.Errorf("error body %q is not JSON with a message", body)
				}
			}
		})
	}
}

// With TokenEverywhere (a non-loopback address) GETs need the token too.
func TestTokenEverywhere(t *testing.T) {
	ts, _ := newTest(t, true)
	for _, path := range []string{"/healthz", "/stats", "/metrics", "/", "/debug/pprof/", "/nope"} {
		if status, body := call(t, "GET", ts.URL+path, "", ""); status != 401 {
			t.Errorf("GET %s without token: %d %s", path, status, body)
		}
		if status, _ := call(t, "GET", ts.URL+path, "Bearer wrong-token-0000000", ""); status != 403 {
			t.Errorf("GET %s with a wrong token: %d", path, status)
		}
	}
	if status, body := call(t, "GET", ts.URL+"/stats", "Bearer "+token, ""); status != 200 {
		t.Errorf("GET /stats with the token: %d %s", status, body)
	}
}

// Without a configured token no POST is allowed, whatever it carries.
func TestNoToken(t *testing.T) {
	f := &fake{modes: map[string]string{"users": "normal"}}
	ts := httptest.NewServer(New(Config{Source: f, Control: f, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}))
	defer ts.Close()
	if status, body := call(t, "POST", ts.URL+"/pools/users/mode", "Bearer anything-at-all-here", `{"mode":"readonly"}`); status != 403 || !strings.Contains(body, "admin_token is not set") {
		t.Errorf("POST without a configured token: %d %s", status, body)
	}
	if f.modes["users"] != "normal" {
		t.Error("mode changed")
	}
}

func TestModeAndReload(t *testing.T) {
	ts, f := newTest(t, false)
	bearer := "Bearer " + token
	if status, body := call(t, "POST", ts.URL+"/pools/users/mode", bearer, `{"mode":"readonly"}`); status != 200 || !strings.Contains(body, `"readonly"`) {
		t.Fatalf("mode: %d %s", status, body)
	}
	_, body := call(t, "GET", ts.URL+"/pools", "", "")
	var pools []poolSummary
	if err := json.Unmarshal([]byte(body), &pools); err != nil || len(pools) != 2 || pools[1].Mode != "readonly" || pools[1].Routes[0] != "u:" {
		t.Errorf("/pools after the switch: %v %s", err, body)
	}
	f.reloadOK = false
	status, body := call(t, "POST", ts.URL+"/reload", bearer, "")
	var e apiError
	if err := json.Unmarshal([]byte(body), &e); status != 400 || err != nil || len(e.Problems) != 2 || !strings.Contains(e.Error, "unchanged") {
		t.Errorf("refused reload: %d %s", status, body)
	}
}

func TestRing(t *testing.T) {
	ts, _ := newTest(t, false)
	status, body := call(t, "GET", ts.URL+"/ring?key=u:42", "", "")
	var o Owner
	if err := json.Unmarshal([]byte(body), &o); status != 200 || err != nil || o.Pool != "users" || o.Server != "127.0.0.1:11400" {
		t.Errorf("/ring?key=u:42: %d %s", status, body)
	}
	if status, _ := call(t, "GET", ts.URL+"/ring", "", ""); status != 400 {
		t.Errorf("/ring without a key: %d", status)
	}
}

func TestLogLevel(t *testing.T) {
	f := &fake{}
	lv := new(slog.LevelVar)
	ts := httptest.NewServer(New(Config{Token: token, Source: f, Control: f, Level: lv, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}))
	defer ts.Close()
	if status, body := call(t, "POST", ts.URL+"/log/level", "Bearer "+token, `{"level":"debug"}`); status != 200 || lv.Level() != slog.LevelDebug {
		t.Errorf("set debug: %d %s, level %v", status, body, lv.Level())
	}
	if _, body := call(t, "GET", ts.URL+"/log/level", "", ""); !strings.Contains(body, `"debug"`) {
		t.Errorf("GET /log/level: %s", body)
	}
	if status, _ := call(t, "POST", ts.URL+"/log/level", "Bearer "+token, `{"level":"loud"}`); status != 400 {
		t.Errorf("bad level: %d", status)
	}
}

// /stats carries the pools' latency with quantiles and cumulative buckets,
// and their servers' breakers.
func TestStatsJSON(t *testing.T) {
	ts, _ := newTest(t, false)
	_, body := call(t, "GET", ts.URL+"/stats", "", "")
	var snap struct {
		Server map[string]uint64
		Pools  []struct {
			Name    string
			Latency *latencyJSON
			Servers []Upstream
		}
	}
	if err := json.Unmarshal([]byte(body), &snap); err != nil {
		t.Fatal(err)
	}
	if snap.Server["curr_connections"] != 3 || len(snap.Pools) != 2 || snap.Pools[0].Latency != nil {
		t.Fatalf("stats: %s", body)
	}
	if b := snap.Pools[1].Servers[0].Breaker; b == nil || *b != (Breaker{State: "half_open", Opens: 2, Rejected: 40}) {
		t.Errorf("breaker in /stats: %+v", b)
	}
	l := snap.Pools[1].Latency
	if l == nil || l.Count != 3 || len(l.Buckets) != hist.Buckets || l.Buckets[hist.Buckets-1].Count != 3 || l.P50 <= 0 || l.P99 < l.P50 {
		t.Errorf("latency: %+v", l)
	}
}

// The exposition passes promtool's checks and names the metrics faed_*.
func TestMetricsPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool not found (%v): apt-get install prometheus, or make deps", err)
	}
	ts, _ := newTest(t, false)
	_, body := call(t, "GET", ts.URL+"/metrics", "", "")
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
	for _, want := range []string{
		`faed_build_info{commit="abc123",goversion="go1.26",version="v1.2.3"} 1`,
		`faed_connections 3`,
		`faed_commands_total{command="get",pool="users"} 7`,
		`faed_hits_total{command="get",pool="default"} 4`,
		`faed_coalesced_gets_total{pool="users"} 2`,
		`faed_l1_hits_total{pool="users"} 3`,
		`faed_upstream_errors_total{pool="users"} 1`,
		`faed_upstream_server_up{failover="true",pool="users",server="127.0.0.1:11401"} 0`,
		`faed_upstream_server_breaker_state{pool="users",server="127.0.0.1:11400"} 2`,
		`faed_upstream_server_breaker_state{pool="users",server="127.0.0.1:11401"} 0`,
		`faed_upstream_server_breaker_opens_total{pool="users",server="127.0.0.1:11400"} 2`,
		`faed_upstream_server_breaker_rejected_total{pool="users",server="127.0.0.1:11400"} 40`,
		`faed_upstream_request_duration_seconds_count{pool="users"} 3`,
		`faed_upstream_request_duration_seconds_bucket{pool="users",le="0.000128"} 2`,
		`faed_pool_readonly{pool="users"} 0`,
		`faed_peer_up{peer="127.0.0.3:11212"} 1`,
		`faed_peer_up{peer="127.0.0.4:11212"} 0`,
		`faed_peer_beacons_dropped_total{reason="garbage"} 4`,
		`faed_peer_beacons_dropped_total{reason="replayed"} 1`,
		`faed_pool_spool_pending{pool="users"} 5`,
		`faed_pool_spool_replayed_total{pool="users"} 7`,
		`faed_spool_pending{pool="users",server="127.0.0.1:11400"} 5`,
		`faed_spool_replayed_total{pool="users",server="127.0.0.1:11400"} 7`,
		`faed_spool_dead_lettered_total{pool="users",server="127.0.0.1:11400"} 1`,
		`faed_store_bytes{pool="default"} 1024`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("metrics lack %s", want)
		}
	}
	for _, line := range strings.Split(body, "\n") {
		name, _, _ := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(line, "# HELP "), "# TYPE "), " ")
		if name != "" && !strings.HasPrefix(name, "faed_") && !strings.HasPrefix(name, "go_") && !strings.HasPrefix(name, "process_") && !strings.HasPrefix(name, "promhttp_") {
			t.Errorf("metric %q is not faed_*", name)
		}
	}
}
