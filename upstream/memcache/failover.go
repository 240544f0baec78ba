package memcache

// Failover (Config.Failover): the keys of a server that is down go to a
// failover server, picked by the pool's distribution over the failover
// list; the keys of servers that are up never move.
//
// Why not remap a down server's keys over the other servers, as
// libmemcached's auto-eject and twemproxy's auto_eject_hosts do? Because the
// other servers would then keep copies written while the server was away:
// when it comes back its keys return to it, and the copies stay behind, to
// be read again, stale, at the next ejection (or at once, by a client that
// ejects at other moments). Failover servers confine such copies to
// machines that hold nothing else; they too can serve a stale copy at a
// server's next outage, so give their items short lifetimes or flush them
// once the fleet is whole. Without failover servers a down server's keys
// fail fast with SERVER_ERROR, which never serves stale data.
//
// "Down" is what the connections already know: no connection is ready and
// none is in its first dial (when requests queue rather than fail). A
// server is up again once a new session has answered its probe, so its keys
// come back only to a server that answers. A server whose breaker refuses
// requests (breaker.go) counts as down too, until its sleep window ends and
// a request goes to it as the probe.

// failoverOf returns the server that takes key, whose server s has no ready
// connection or a breaker that refuses: s itself while it may still take
// requests (pipeline.Down, and its breaker lets them through), else the
// failover server of key.
func (p *Pool) failoverOf(key []byte, s int) int {
	if !p.pipe.Down(s) && !p.servers[s].refusing() {
		return s
	}
	return len(p.cfg.Servers) + p.failover.Pick(key)
}
