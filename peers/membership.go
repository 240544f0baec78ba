package peers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fae-sidecar/fae/peers/auth"
)

// Config mirrors the peers block of faed's configuration (conf.Peers),
// with the secret loaded.
type Config struct {
	// ID names this sidecar in its beacons; default 16 random hex digits,
	// new at each start, so a restarted peer is told from its former self.
	ID string
	// Listen is the peer address, host:port: beacons arrive on its UDP
	// port and it is the address announced to the other peers.
	Listen string
	// Secret is the cluster's shared secret (at least auth.MinSecret bytes).
	Secret []byte
	// Static lists peer addresses to heartbeat from the start. Listen
	// itself, if listed, is skipped.
	Static []string
	// Multicast, when set, announces this sidecar on a group and admits
	// the peers heard there.
	Multicast *Multicast
	// Heartbeat is the interval of beacons to each peer. Default 200ms.
	Heartbeat time.Duration
	// DownAfter is the number of missed heartbeats that marks a peer
	// down. Default 3.
	DownAfter int
	// ForgetAfter drops a peer found by its beacons (not a static one)
	// once it has been down this long. Default 1h.
	ForgetAfter time.Duration
	// AuthWindow bounds the clock skew between peers (auth.Config.Window).
	// Default 10s.
	AuthWindow time.Duration
	// OnChange, if set, is called with each change of a peer, in order,
	// from one goroutine of the Membership: it must return quickly (rebuild
	// a ring, not dial).
	OnChange func(Change)
	// Logger receives membership changes; default slog.Default().
	Logger *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Multicast is the discovery group.
type Multicast struct {
	// Group is an IPv4 multicast group host:port, e.g. 239.255.77.77:7946.
	Group string
	// Interface names the interface to join the group on and send
	// through; empty: the system's choice.
	Interface string
}

// Peer is what this sidecar knows of another.
type Peer struct {
	// Addr is the peer address it announces (or the static entry).
	Addr string
	// ID is the id of its last beacon; empty until one arrived.
	ID string
	// Up is true while its beacons arrive.
	Up bool
	// Static is true for an entry of Config.Static.
	Static bool
}

// Change is one change of a peer.
type Change struct {
	Peer Peer
	// Kind says what happened.
	Kind ChangeKind
}

// ChangeKind is what happened to a peer.
type ChangeKind int

// Kinds of change.
const (
	PeerUp        ChangeKind = iota // its first beacon, or its first since it was down
	PeerDown                        // DownAfter heartbeats missed, or it said it was leaving
	PeerRestarted                   // it came back up with a new id (an empty store: hand off its keys)
	PeerForgotten                   // a discovered peer down for ForgetAfter
)

func (k ChangeKind) String() string {
	switch k {
	case PeerUp:
		return "up"
	case PeerDown:
		return "down"
	case PeerRestarted:
		return "restarted"
	case PeerForgotten:
		return "forgotten"
	}
	return fmt.Sprintf("ChangeKind(%d)", int(k))
}

// Drop reasons of the membership itself; auth's reasons come first in Drops.
const (
	DropMalformed = "malformed" // sealed, but not a beacon
	DropWrongKind = "wrong_kind"
	DropOwnID     = "own_id"   // announces this sidecar's id from another address
	DropOwnAddr   = "own_addr" // announces this sidecar's address under another id
	DropOverload  = "overload" // more beacons than the membership keeps up with
	// DropMisdirected: sealed for another destination (a peer address or
	// the group), so possibly a beacon to a third peer replayed here.
	DropMisdirected = "misdirected"
)

var ownReasons = []string{DropMalformed, DropWrongKind, DropMisdirected, DropOwnID, DropOwnAddr, DropOverload}

// Drop is a count of dropped beacons.
type Drop struct {
	Reason string
	Count  uint64
}

// Errors of New and Start.
var (
	// ErrStarted is returned by Start when called twice.
	ErrStarted = errors.New("peers: already started")
	// ErrClosed is returned by Start after Close.
	ErrClosed = errors.New("peers: closed")
)

// Membership discovers peers and watches them. Start it once; Close stops
// every goroutine it started. Its methods are safe for concurrent use.
type Membership struct {
	cfg   Config
	auth  *auth.Auth
	log   *slog.Logger
	group *net.UDPAddr
	ifi   *net.Interface

	drops map[string]*atomic.Uint64 // fixed at New

	// snapshot is the peer list for Peers, replaced by the watch goroutine.
	snapshot atomic.Pointer[[]Peer]

	wg      sync.WaitGroup // every goroutine Start started
	beacons chan heard     // readers to the watch goroutine; set by Start

	mu       sync.Mutex // guards the fields below
	started  bool
	closed   bool
	cancel   context.CancelFunc
	uni, mc  *net.UDPConn
	sendBuf  []byte
	payload  []byte
	resolved map[string]*net.UDPAddr // destinations of beacons
	lastWarn map[string]time.Time    // rate limit of own-id/own-addr warnings, by source
}

// heard is an authenticated beacon on its way to the watch goroutine.
type heard struct {
	b  beacon
	at time.Time
}

// New checks cfg and returns a Membership that has not started.
func New(cfg Config) (*Membership, error) {
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 200 * time.Millisecond
	}
	if cfg.DownAfter <= 0 {
		cfg.DownAfter = 3
	}
	if cfg.ForgetAfter <= 0 {
		cfg.ForgetAfter = time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ID == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		cfg.ID = hex.EncodeToString(b[:])
	}
	if len(cfg.ID) > maxIDLen {
		return nil, fmt.Errorf("peers: id longer than %d bytes", maxIDLen)
	}
	if _, _, err := net.SplitHostPort(cfg.Listen); err != nil || len(cfg.Listen) > maxAddrLen {
		return nil, fmt.Errorf("peers: listen %q is not host:port", cfg.Listen)
	}
	a, err := auth.New(auth.Config{Secret: cfg.Secret, Window: cfg.AuthWindow, Now: cfg.Now})
	if err != nil {
		return nil, err
	}
	m := &Membership{cfg: cfg, auth: a, drops: map[string]*atomic.Uint64{}, lastWarn: map[string]time.Time{}, resolved: map[string]*net.UDPAddr{}}
	m.log = cfg.Logger.With("peer_listen", cfg.Listen)
	for _, r := range ownReasons {
		m.drops[r] = new(atomic.Uint64)
	}
	if mc := cfg.Multicast; mc != nil {
		if m.group, err = net.ResolveUDPAddr("udp4", mc.Group); err != nil || !m.group.IP.IsMulticast() {
			return nil, fmt.Errorf("peers: multicast group %q is not an IPv4 multicast host:port", mc.Group)
		}
		if mc.Interface != "" {
			if m.ifi, err = net.InterfaceByName(mc.Interface); err != nil {
				return nil, fmt.Errorf("peers: multicast interface %q: %w", mc.Interface, err)
			}
		}
	}
	var ps []Peer
	for _, s := range cfg.Static {
		if s != cfg.Listen && !slices.ContainsFunc(ps, func(p Peer) bool { return p.Addr == s }) {
			ps = append(ps, Peer{Addr: s, Static: true})
		}
	}
	slices.SortFunc(ps, func(a, b Peer) int { return cmpString(a.Addr, b.Addr) })
	m.snapshot.Store(&ps)
	return m, nil
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// ID returns this sidecar's id.
func (m *Membership) ID() string { return m.cfg.ID }

// Addr returns this sidecar's peer address.
func (m *Membership) Addr() string { return m.cfg.Listen }

// Peers returns every known peer, sorted by address: the static ones and
// the ones heard from (until forgotten). The slice is the caller's.
func (m *Membership) Peers() []Peer { return slices.Clone(*m.snapshot.Load()) }

// Drops returns the counts of dropped beacons by reason: auth's
// (garbage, unsigned, bad_mac, stale, replayed, nonce_set_full) then the
// membership's (malformed, wrong_kind, own_id, own_addr, overload).
func (m *Membership) Drops() []Drop {
	var ds []Drop
	for _, r := range auth.Reasons() {
		ds = append(ds, Drop{Reason: r.String(), Count: m.auth.Refused(r)})
	}
	for _, r := range ownReasons {
		ds = append(ds, Drop{Reason: r, Count: m.drops[r].Load()})
	}
	return ds
}

// Dropped returns the count of one reason of Drops.
func (m *Membership) Dropped(reason string) uint64 {
	for _, d := range m.Drops() {
		if d.Reason == reason {
			return d.Count
		}
	}
	return 0
}

// Start binds the peer port (UDP) and the multicast group and starts
// beaconing and watching. It returns once the sockets are bound; the
// membership runs until ctx is done or Close.
func (m *Membership) Start(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.closed:
		return ErrClosed
	case m.started:
		return ErrStarted
	}
	laddr, err := net.ResolveUDPAddr("udp", m.cfg.Listen)
	if err != nil {
		return fmt.Errorf("peers: %w", err)
	}
	uni, err := net.ListenUDP("udp", laddr)
	if err != nil {
		return fmt.Errorf("peers: %w", err)
	}
	var mc *net.UDPConn
	if m.group != nil {
		if err := setMulticastIf(uni, m.ifi); err != nil {
			uni.Close()
			return fmt.Errorf("peers: multicast interface: %w", err)
		}
		// Go sets SO_REUSEADDR: every sidecar of a host joins the group.
		if mc, err = net.ListenMulticastUDP("udp4", m.ifi, m.group); err != nil {
			uni.Close()
			return fmt.Errorf("peers: multicast group %s: %w", m.group, err)
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	m.started, m.cancel, m.uni, m.mc = true, cancel, uni, mc
	m.beacons = make(chan heard, 256)
	m.wg.Add(1)
	go func() { defer m.wg.Done(); m.read(uni, m.cfg.Listen) }()
	if mc != nil {
		m.wg.Add(1)
		go func() { defer m.wg.Done(); m.read(mc, m.cfg.Multicast.Group) }()
	}
	m.wg.Add(1)
	go func() { defer m.wg.Done(); m.watch(ctx) }()
	// Closing the sockets is what stops the readers.
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		<-ctx.Done()
		uni.Close()
		if mc != nil {
			mc.Close()
		}
	}()
	m.log.Info("peers: membership started", "id", m.cfg.ID, "static", len(m.cfg.Static), "multicast", m.group,
		"heartbeat", m.cfg.Heartbeat, "down_after", m.cfg.DownAfter)
	return nil
}

// Close tells the peers this sidecar is leaving (so they mark it down at
// once rather than after DownAfter heartbeats), stops every goroutine of
// the membership and waits for them.
func (m *Membership) Close() error {
	return m.stop(true)
}

// stop ends the membership; leave says goodbye first.
func (m *Membership) stop(leave bool) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	if m.started && leave {
		m.sendAllLocked(true)
	}
	cancel := m.cancel
	m.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	m.wg.Wait()
	return nil
}

// read opens each datagram of conn and hands authenticated beacons to the
// watch goroutine, until conn is closed.
// to is the destination a beacon on conn must name.
func (m *Membership) read(conn *net.UDPConn, to string) {
	buf := make([]byte, 2048) // a beacon is under 400 bytes; a longer datagram is cut, and refused
	for {
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		msg, err := m.auth.Open(buf[:n])
		if err != nil {
			m.log.Debug("peers: beacon refused", "from", from, "err", err)
			continue
		}
		if msg.Kind != auth.KindBeacon {
			m.drop(DropWrongKind, from.String())
			continue
		}
		b, err := parseBeacon(msg.Payload)
		if err != nil {
			m.drop(DropMalformed, from.String())
			continue
		}
		switch {
		case b.to != to:
			// Sealed for another destination: a peer's beacon to a third
			// one, replayed here to hold a dead peer up.
			m.drop(DropMisdirected, from.String())
			continue
		case b.id == m.cfg.ID && b.addr == m.cfg.Listen:
			continue // our own, looped back by the multicast group or a static entry naming us
		case b.id == m.cfg.ID:
			m.drop(DropOwnID, from.String())
			m.warn("peers: refused a beacon announcing this sidecar's id", from.String(), "addr", b.addr)
			continue
		case b.addr == m.cfg.Listen:
			m.drop(DropOwnAddr, from.String())
			m.warn("peers: refused a beacon announcing this sidecar's address", from.String(), "id", b.id)
			continue
		}
		select {
		case m.beacons <- heard{b: b, at: m.cfg.Now()}:
		default:
			m.drop(DropOverload, from.String())
		}
	}
}

func (m *Membership) drop(reason, from string) {
	m.drops[reason].Add(1)
	m.log.Debug("peers: beacon dropped", "from", from, "reason", reason)
}

// warn logs msg for source at most once a minute.
func (m *Membership) warn(msg, source string, args ...any) {
	now := m.cfg.Now()
	m.mu.Lock()
	last, seen := m.lastWarn[source]
	log := !seen || now.Sub(last) >= time.Minute
	if log {
		if len(m.lastWarn) >= 1024 {
			clear(m.lastWarn)
		}
		m.lastWarn[source] = now
	}
	m.mu.Unlock()
	if log {
		m.log.Warn(msg, append([]any{"from", source}, args...)...)
	}
}
