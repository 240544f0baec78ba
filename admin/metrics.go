package admin

import (
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fae-sidecar/fae/internal/hist"
)

// collector turns a Snapshot into Prometheus metrics at each scrape: the
// request path keeps its own counters (atomics, per pool and server) and
// nothing is registered or bumped per request for Prometheus.
type collector struct{ src Source }

func newCollector(src Source) *collector { return &collector{src: src} }

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("faed_"+name, help, labels, nil)
}

var (
	descBuild = desc("build_info", "The faed binary running: version, commit and Go version (always 1).",
		"version", "commit", "goversion")
	descStart    = desc("start_time_seconds", "When faed started, in seconds since the Unix epoch.")
	descServing  = desc("serving", "1 while faed serves clients, 0 before it listens and while it drains.")
	descReloads  = desc("config_reloads_total", "Configuration reloads by result (ok, error).", "result")
	descLoaded   = desc("config_last_reload_success_timestamp_seconds", "When the configuration in force was loaded.")
	descLogLevel = desc("log_level", "The log level in force as slog numbers it (debug -4, info 0, warn 4, error 8).")
	descPeerUp   = desc("peer_up", "1 while the peer sidecar answers its heartbeats, else 0.", "peer")
	descDropped  = desc("peer_beacons_dropped_total", "Peer beacons refused, by reason (garbage, unsigned, bad_mac, stale, replayed, misdirected, ...).", "reason")

	// The front's counters, by the server's stat names.
	serverMetrics = []struct {
		stat string
		desc *prometheus.Desc
		kind prometheus.ValueType
	}{
		{"curr_connections", desc("connections", "Client connections open."), prometheus.GaugeValue},
		{"total_connections", desc("connections_total", "Client connections accepted."), prometheus.CounterValue},
		{"rejected_connections", desc("connections_rejected_total", "Client connections refused over max_conns."), prometheus.CounterValue},
		{"bytes_read", desc("read_bytes_total", "Bytes read from clients."), prometheus.CounterValue},
		{"bytes_written", desc("written_bytes_total", "Bytes written to clients."), prometheus.CounterValue},
		{"inflight", desc("inflight_requests", "Client requests waiting for an upstream."), prometheus.GaugeValue},
	}

	descCommands = desc("commands_total", "Commands served by pool and command (get counts keys; delete, incr and decr count hits and misses).",
		"pool", "command")
	descHits      = desc("hits_total", "Hits by pool and command.", "pool", "command")
	descMisses    = desc("misses_total", "Misses by pool and command.", "pool", "command")
	descReadOnly  = desc("pool_readonly", "1 while the pool is read-only (writes refused), else 0.", "pool")
	descUp        = desc("upstream_server_up", "1 while the server has a ready connection, else 0.", "pool", "server", "failover")
	descReady     = desc("upstream_server_ready_connections", "Ready connections to the server.", "pool", "server")
	descSrvTmo    = desc("upstream_server_timeouts_total", "Connections to the server cut because a reply was late.", "pool", "server")
	descSpoolLen  = desc("spool_pending", "Writes acknowledged by the fallback to memory and not yet replayed to the server.", "pool", "server")
	descSpoolRep  = desc("spool_replayed_total", "Spooled writes replayed to the server.", "pool", "server")
	descSpoolDead = desc("spool_dead_lettered_total", "Spooled writes moved to the dead letters after too many refusals.", "pool", "server")
	descBrkState  = desc("upstream_server_breaker_state", "The server's circuit breaker: 0 closed, 1 open, 2 half-open (its probe out).", "pool", "server")
	descBrkOpens  = desc("upstream_server_breaker_opens_total", "Times the server's circuit breaker opened, failed probes included.", "pool", "server")
	descBrkRej    = desc("upstream_server_breaker_rejected_total", "Requests the server's open circuit breaker answered at once (or sent to a failover server).", "pool", "server")
	descLatency   = desc("upstream_request_duration_seconds", "Round trips to the pool's servers, from queueing a request to reading its reply.", "pool")
	commandStats  = []string{"get", "set", "touch", "flush"}
	hitMissStats  = []string{"get", "delete", "incr", "decr", "touch"}
	countedByHits = []string{"delete", "incr", "decr"}

	// A pool's other counters and gauges, by stat name.
	poolMetrics = []struct {
		stat string
		desc *prometheus.Desc
		kind prometheus.ValueType
	}{
		{"requests", desc("upstream_requests_total", "Requests sent to the pool's servers.", "pool"), prometheus.CounterValue},
		{"errors", desc("upstream_errors_total", "Requests answered SERVER_ERROR by the pool (down, timeout, queue full, closed).", "pool"), prometheus.CounterValue},
		{"timeouts", desc("upstream_timeouts_total", "Upstream connections cut because a reply was late.", "pool"), prometheus.CounterValue},
		{"reconnects", desc("upstream_reconnects_total", "Upstream connections opened after the first.", "pool"), prometheus.CounterValue},
		{"rejected", desc("upstream_rejected_total", "Requests refused because an upstream connection's queue was full.", "pool"), prometheus.CounterValue},
		{"coalesced_gets", desc("coalesced_gets_total", "Gets answered by joining a read of the same key already in flight.", "pool"), prometheus.CounterValue},
		{"l1_hits", desc("l1_hits_total", "Gets answered from the pool's L1.", "pool"), prometheus.CounterValue},
		{"l1_misses", desc("l1_misses_total", "Gets L1 could not answer.", "pool"), prometheus.CounterValue},
		{"l1_evictions", desc("l1_evictions_total", "Entries L1 evicted for room.", "pool"), prometheus.CounterValue},
		{"l1_bytes", desc("l1_bytes", "Bytes held by the pool's L1.", "pool"), prometheus.GaugeValue},
		{"spool_pending", desc("pool_spool_pending", "Writes the pool's fallback to memory acknowledged and has not replayed yet.", "pool"), prometheus.GaugeValue},
		{"spool_appended", desc("pool_spool_appended_total", "Writes the pool's fallback to memory spooled and acknowledged.", "pool"), prometheus.CounterValue},
		{"spool_replayed", desc("pool_spool_replayed_total", "Spooled writes replayed to their server.", "pool"), prometheus.CounterValue},
		{"spool_dead_lettered", desc("pool_spool_dead_lettered_total", "Spooled writes moved to the dead letters.", "pool"), prometheus.CounterValue},
		{"spool_errors", desc("pool_spool_errors_total", "Writes answered SERVER_ERROR because the spool could not be written.", "pool"), prometheus.CounterValue},
		{"readonly_refused", desc("readonly_refused_total", "Writes refused while the pool was read-only.", "pool"), prometheus.CounterValue},
		{"bytes", desc("store_bytes", "Bytes held by the embedded store.", "pool"), prometheus.GaugeValue},
		{"limit_maxbytes", desc("store_limit_bytes", "The embedded store's max_bytes.", "pool"), prometheus.GaugeValue},
		{"curr_items", desc("store_items", "Items held by the embedded store.", "pool"), prometheus.GaugeValue},
		{"evictions", desc("store_evictions_total", "Items the embedded store evicted for room.", "pool"), prometheus.CounterValue},
		{"get_expired", desc("store_get_expired_total", "Gets of the embedded store that found an expired item.", "pool"), prometheus.CounterValue},
	}
)

// Describe sends nothing: the collector is unchecked, since which pools
// and servers exist changes with reloads.
func (c *collector) Describe(chan<- *prometheus.Desc) {}

// Collect reads one snapshot and sends its metrics.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	snap := c.src.Snapshot()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	b := snap.Build
	gauge(descBuild, 1, b.Version, b.Commit, b.GoVersion)
	gauge(descStart, float64(snap.Started.UnixNano())/1e9)
	gauge(descServing, boolValue(c.src.Serving()))
	counter(descReloads, snap.Config.Reloads, "ok")
	counter(descReloads, snap.Config.ReloadFailures, "error")
	gauge(descLoaded, float64(snap.Config.Loaded.UnixNano())/1e9)
	gauge(descLogLevel, levelValue(snap.LogLevel))
	for _, m := range serverMetrics {
		if v, ok := snap.Server[m.stat]; ok {
			ch <- prometheus.MustNewConstMetric(m.desc, m.kind, float64(v))
		}
	}
	for i := range snap.Pools {
		collectPool(ch, &snap.Pools[i])
	}
	for _, p := range snap.Peers {
		gauge(descPeerUp, boolValue(p.Up), p.Addr)
	}
	for reason, n := range snap.BeaconsDropped {
		counter(descDropped, n, reason)
	}
}

func collectPool(ch chan<- prometheus.Metric, p *Pool) {
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	st := p.Stats
	for _, cmd := range commandStats {
		if v, ok := st["cmd_"+cmd]; ok {
			counter(descCommands, v, p.Name, cmd)
		}
	}
	for _, cmd := range countedByHits {
		h, ok1 := st[cmd+"_hits"]
		m, ok2 := st[cmd+"_misses"]
		if ok1 && ok2 {
			counter(descCommands, h+m, p.Name, cmd)
		}
	}
	for _, cmd := range hitMissStats {
		if v, ok := st[cmd+"_hits"]; ok {
			counter(descHits, v, p.Name, cmd)
		}
		if v, ok := st[cmd+"_misses"]; ok {
			counter(descMisses, v, p.Name, cmd)
		}
	}
	for _, m := range poolMetrics {
		if v, ok := st[m.stat]; ok {
			ch <- prometheus.MustNewConstMetric(m.desc, m.kind, float64(v), p.Name)
		}
	}
	ch <- prometheus.MustNewConstMetric(descReadOnly, prometheus.GaugeValue, boolValue(p.Mode == "readonly"), p.Name)
	for _, s := range p.Servers {
		fo := "false"
		if s.Failover {
			fo = "true"
		}
		ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, boolValue(s.Up), p.Name, s.Addr, fo)
		ch <- prometheus.MustNewConstMetric(descReady, prometheus.GaugeValue, float64(s.Ready), p.Name, s.Addr)
		counter(descSrvTmo, s.Timeouts, p.Name, s.Addr)
		if sp := s.Spool; sp != nil {
			ch <- prometheus.MustNewConstMetric(descSpoolLen, prometheus.GaugeValue, float64(sp.Pending), p.Name, s.Addr)
			counter(descSpoolRep, sp.Replayed, p.Name, s.Addr)
			counter(descSpoolDead, sp.DeadLettered, p.Name, s.Addr)
		}
		if b := s.Breaker; b != nil {
			ch <- prometheus.MustNewConstMetric(descBrkState, prometheus.GaugeValue, float64(slices.Index(BreakerStates, b.State)), p.Name, s.Addr)
			counter(descBrkOpens, b.Opens, p.Name, s.Addr)
			counter(descBrkRej, b.Rejected, p.Name, s.Addr)
		}
	}
	if h := p.Latency; h != nil {
		buckets := make(map[float64]uint64, hist.Buckets-1)
		var cum uint64
		for i, c := range h.Counts[:hist.Buckets-1] {
			cum += c
			buckets[hist.Bound(i).Seconds()] = cum
		}
		ch <- prometheus.MustNewConstHistogram(descLatency, h.Count(), h.Sum.Seconds(), buckets, p.Name)
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// levelValue numbers a level name as slog does.
func levelValue(name string) float64 {
	switch name {
	case "debug", "DEBUG":
		return -4
	case "warn", "WARN":
		return 4
	case "error", "ERROR":
		return 8
	}
	return 0
}
