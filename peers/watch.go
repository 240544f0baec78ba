package peers

import (
	"context"
	"net"
	"slices"
	"time"

	"github.com/fae-sidecar/fae/peers/auth"
)

// peerState is the watch goroutine's record of one peer.
type peerState struct {
	Peer
	lastSeen  time.Time // of its last beacon
	downSince time.Time
}

// watch owns the peer table: it applies beacons, marks peers down when
// they fall silent, beacons every known peer each heartbeat, and reports
// changes, until ctx is done.
//
// A peer is down once silent for Heartbeat*DownAfter plus half a
// heartbeat: the half absorbs the jitter of two tickers on two hosts, so
// DownAfter 1 does not flap. Silence is checked four times a heartbeat,
// so a dead peer is marked down between (DownAfter-0.5) and
// (DownAfter+0.75) heartbeats after its last beacon left.
func (m *Membership) watch(ctx context.Context) {
	table := map[string]*peerState{}
	for _, p := range *m.snapshot.Load() {
		table[p.Addr] = &peerState{Peer: p}
	}
	silence := m.cfg.Heartbeat*time.Duration(m.cfg.DownAfter) + m.cfg.Heartbeat/2
	beat := time.NewTicker(m.cfg.Heartbeat)
	defer beat.Stop()
	period := max(m.cfg.Heartbeat/4, time.Millisecond)
	check := time.NewTicker(period)
	defer check.Stop()
	var lastCheck time.Time
	var changes []Change
	m.sendAll(false)
	for {
		changes = changes[:0]
		select {
		case <-ctx.Done():
			return
		case <-beat.C:
			m.sendAll(false)
			continue
		case h := <-m.beacons:
			changes = m.apply(table, h, changes)
		case <-check.C:
			now := m.cfg.Now()
			// A check a heartbeat later than due means this process did
			// not run meanwhile (SIGSTOP, a suspended host): the peers'
			// beacons wait unread in the socket, so that silence is ours,
			// not theirs, and is not held against them. Else a sidecar
			// that wakes marks every peer down and serves writes on a
			// ring of itself until it reads their beacons again.
			if paused := now.Sub(lastCheck) - period; !lastCheck.IsZero() && paused > m.cfg.Heartbeat {
				for _, p := range table {
					p.lastSeen = p.lastSeen.Add(paused)
				}
			}
			lastCheck = now
			for addr, p := range table {
				switch {
				case p.Up && now.Sub(p.lastSeen) > silence:
					p.Up, p.downSince = false, now
					changes = append(changes, Change{Peer: p.Peer, Kind: PeerDown})
					m.log.Info("peers: peer down", "addr", addr, "id", p.ID, "silent_for", now.Sub(p.lastSeen).Round(time.Millisecond))
				case !p.Up && !p.Static && !p.downSince.IsZero() && now.Sub(p.downSince) > m.cfg.ForgetAfter:
					delete(table, addr)
					changes = append(changes, Change{Peer: p.Peer, Kind: PeerForgotten})
					m.log.Info("peers: peer forgotten", "addr", addr, "id", p.ID, "down_for", now.Sub(p.downSince).Round(time.Second))
				}
			}
		}
		if len(changes) == 0 {
			continue
		}
		// OnChange first: once Peers (stats peers) shows a change, what
		// OnChange does with it (the ring in force) is done.
		if m.cfg.OnChange != nil {
			for _, c := range changes {
				m.cfg.OnChange(c)
			}
		}
		m.publish(table)
	}
}

// apply records beacon h and appends the change it makes, if any.
func (m *Membership) apply(table map[string]*peerState, h heard, changes []Change) []Change {
	b := h.b
	p := table[b.addr]
	if p == nil {
		if b.leaving {
			return changes
		}
		p = &peerState{Peer: Peer{Addr: b.addr}}
		table[b.addr] = p
	}
	if b.leaving {
		if p.Up {
			p.Up, p.downSince = false, h.at
			changes = append(changes, Change{Peer: p.Peer, Kind: PeerDown})
			m.log.Info("peers: peer left", "addr", b.addr, "id", b.id)
		}
		return changes
	}
	p.lastSeen = h.at
	switch {
	case p.ID != "" && p.ID != b.id:
		p.ID, p.Up, p.downSince = b.id, true, time.Time{}
		changes = append(changes, Change{Peer: p.Peer, Kind: PeerRestarted})
		m.log.Info("peers: peer restarted", "addr", b.addr, "id", b.id)
		m.greet(b.addr)
	case !p.Up:
		p.ID, p.Up, p.downSince = b.id, true, time.Time{}
		changes = append(changes, Change{Peer: p.Peer, Kind: PeerUp})
		m.log.Info("peers: peer up", "addr", b.addr, "id", b.id)
		m.greet(b.addr)
	}
	return changes
}

// publish replaces the snapshot Peers returns.
func (m *Membership) publish(table map[string]*peerState) {
	ps := make([]Peer, 0, len(table))
	for _, p := range table {
		ps = append(ps, p.Peer)
	}
	slices.SortFunc(ps, func(a, b Peer) int { return cmpString(a.Addr, b.Addr) })
	m.snapshot.Store(&ps)
}

// sendAll beacons every known peer, up or down (a down peer that comes
// back hears of us at once), and the multicast group.
func (m *Membership) sendAll(leaving bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.closed {
		m.sendAllLocked(leaving)
	}
}

func (m *Membership) sendAllLocked(leaving bool) {
	for _, p := range *m.snapshot.Load() {
		m.sendPeerLocked(p.Addr, leaving)
	}
	if m.group != nil {
		m.sendLocked(m.group, m.cfg.Multicast.Group, leaving)
	}
}

// greet beacons a peer that just came up at once, rather than at the next
// heartbeat, so it sees this sidecar up as soon as this sidecar sees it.
func (m *Membership) greet(addr string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.closed {
		m.sendPeerLocked(addr, false)
	}
}

func (m *Membership) sendPeerLocked(addr string, leaving bool) {
	dst := m.resolved[addr]
	if dst == nil {
		var err error
		if dst, err = net.ResolveUDPAddr("udp", addr); err != nil {
			m.log.Debug("peers: cannot resolve peer", "addr", addr, "err", err)
			return
		}
		if len(m.resolved) >= 4096 {
			clear(m.resolved)
		}
		m.resolved[addr] = dst
	}
	m.sendLocked(dst, addr, leaving)
}

// sendLocked seals a beacon for to and sends it to dst. Errors (a peer's
// host unreachable) are the watchdog's to notice.
func (m *Membership) sendLocked(dst *net.UDPAddr, to string, leaving bool) {
	m.payload = appendBeacon(m.payload[:0], beacon{id: m.cfg.ID, addr: m.cfg.Listen, to: to, leaving: leaving})
	m.sendBuf = m.auth.Seal(m.sendBuf[:0], auth.KindBeacon, m.payload)
	_, _ = m.uni.WriteToUDP(m.sendBuf, dst)
}
