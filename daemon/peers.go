package daemon

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/fae-sidecar/fae/conf"
	"github.com/fae-sidecar/fae/peers"
)

// startPeers joins the cluster of cfg.Peers (nil: none, and nil is
// returned): beacons, discovery and the watchdog run until ctx is done or
// the membership is closed.
func startPeers(ctx context.Context, cfg *conf.Peers, log *slog.Logger, onChange func(peers.Change)) (*peers.Membership, error) {
	if cfg == nil {
		return nil, nil
	}
	secret, err := cfg.LoadSecret()
	if err != nil {
		return nil, fmt.Errorf("peers: %w", err)
	}
	pc := peers.Config{
		Listen:    cfg.Listen,
		Secret:    secret,
		Static:    cfg.Static,
		Heartbeat: cfg.Heartbeat.D(),
		DownAfter: cfg.DownAfter,
		Logger:    log,
		OnChange:  onChange,
	}
	if cfg.Multicast != nil {
		pc.Multicast = &peers.Multicast{Group: cfg.Multicast.Group, Interface: cfg.Multicast.Interface}
	}
	m, err := peers.New(pc)
	if err != nil {
		return nil, fmt.Errorf("peers: %w", err)
	}
	if err := m.Start(ctx); err != nil {
		return nil, fmt.Errorf("peers: %w", err)
	}
	log.Info("peers: member of the cluster", "id", m.ID(), "listen", m.Addr(), "static", len(cfg.Static), "multicast", cfg.Multicast != nil)
	return m, nil
}

// peerStats lists m's peers for "stats peers".
func peerStats(m *peers.Membership) func(add func(addr string, up bool)) {
	if m == nil {
		return nil
	}
	return func(add func(addr string, up bool)) {
		for _, p := range m.Peers() {
			add(p.Addr, p.Up)
		}
	}
}
