package daemon

import (
	"strconv"

	"github.com/fae-sidecar/fae/admin"
	mc "github.com/fae-sidecar/fae/upstream/memcache"
)

// upstreams is the state of p's servers (failover ones last) as the admin
// API shows it.
func upstreams(p *mc.Pool, spools map[string]*admin.Spool) []admin.Upstream {
	var out []admin.Upstream
	for _, s := range p.Servers() {
		u := admin.Upstream{Addr: s.Addr, Failover: s.Failover, Up: s.Up, Ready: s.Ready, Timeouts: s.Timeouts, Spool: spools[s.Addr]}
		if b := s.Breaker; b != nil {
			u.Breaker = &admin.Breaker{State: b.State.String(), Opens: b.Opens, Rejected: b.Rejected}
		}
		out = append(out, u)
	}
	return out
}

// poolStats answers "stats pools" on the client port: for each server of
// each memcache pool in force, lines named pool:POOL:HOST:PORT:FIELD (as
// "stats mongo" names mongo:POOL:SHARD:FIELD): up (1 or 0), ready
// (connections), timeouts, failover (1 for a failover server), and with
// breakers breaker (closed, open or half_open), breaker_opens and
// breaker_rejected.
func (d *daemon) poolStats(add func(name, value string)) {
	gen := d.gen.Load()
	for _, name := range sortedNames(gen.pools) {
		bp := gen.pools[name]
		if bp.mc == nil {
			continue
		}
		for _, u := range upstreams(bp.mc, spoolStats(bp.fb)) {
			prefix := "pool:" + name + ":" + u.Addr + ":"
			add(prefix+"up", flag(u.Up))
			add(prefix+"ready", strconv.Itoa(u.Ready))
			add(prefix+"timeouts", strconv.FormatUint(u.Timeouts, 10))
			add(prefix+"failover", flag(u.Failover))
			if b := u.Breaker; b != nil {
				add(prefix+"breaker", b.State)
				add(prefix+"breaker_opens", strconv.FormatUint(b.Opens, 10))
				add(prefix+"breaker_rejected", strconv.FormatUint(b.Rejected, 10))
			}
		}
	}
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}
