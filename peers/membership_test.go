package peers

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/fae-sidecar/fae/peers/auth"
)

var testSecret = []byte("the cluster's shared secret, 32b")

// freeAddr returns host:port with a UDP port free on host right now.
func freeAddr(t *testing.T, host string) string {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(host)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().String()
}

// testGroup returns 239.255.77.77 with a random port, so concurrent tests
// (and other engineers' runs) do not share a group.
func testGroup() string { return fmt.Sprintf("239.255.77.77:%d", 20000+rand.IntN(30000)) }

// changes records the changes a membership reports.
type changes struct {
	mu   sync.Mutex
	list []Change
}

func (c *changes) add(ch Change) { c.mu.Lock(); c.list = append(c.list, ch); c.mu.Unlock() }
func (c *changes) kinds(addr string) []ChangeKind {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ks []ChangeKind
	for _, ch := range c.list {
		if ch.Peer.Addr == addr {
			ks = append(ks, ch.Kind)
		}
	}
	return ks
}

type member struct {
	*Membership
	changes *changes
}

func start(t *testing.T, cfg Config) member {
	t.Helper()
	ch := &changes{}
	cfg.OnChange = ch.add
	if cfg.Secret == nil {
		cfg.Secret = testSecret
	}
	if cfg.Heartbeat == 0 {
		cfg.Heartbeat = 50 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return member{m, ch}
}

// eventually waits for cond, polling, up to a generous deadline.
func eventually(t *testing.T, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", time.Since(start), what)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return time.Since(start)
}

// upPeers returns the addresses m sees up.
func upPeers(m *Membership) []string {
	var up []string
	for _, p := range m.Peers() {
		if p.Up {
			up = append(up, p.Addr)
		}
	}
	return up
}

// seesUp reports whether m sees exactly want up.
func seesUp(m *Membership, want ...string) bool {
	up := upPeers(m)
	slices.Sort(up)
	want = slices.Clone(want)
	slices.Sort(want)
	return slices.Equal(up, want)
}

func others(all []string, self string) []string {
	return slices.DeleteFunc(slices.Clone(all), func(a string) bool { return a == self })
}

// allUp reports whether each of ms (listening on addrs) sees all the
// others up.
func allUp(ms []member, addrs []string) func() bool {
	return func() bool {
		for i, m := range ms {
			if !seesUp(m.Membership, others(addrs, addrs[i])...) {
				return false
			}
		}
		return true
	}
}

func threeAddrs(t *testing.T) []string {
	return []string{freeAddr(t, "127.0.0.2"), freeAddr(t, "127.0.0.3"), freeAddr(t, "127.0.0.4")}
}

func TestStaticFindEachOther(t *testing.T) {
	addrs := threeAddrs(t)
	var ms []member
	for _, a := range addrs {
		// One list for the whole cluster, this member's own address included.
		ms = append(ms, start(t, Config{Listen: a, Static: addrs}))
	}
	took := eventually(t, "every member sees the others up", allUp(ms, addrs))
	t.Logf("3 members by static list: all up after %v", took)
	for i, m := range ms {
		if ps := m.Peers(); len(ps) != 2 || !ps[0].Static || ps[0].ID == "" {
			t.Errorf("member %d lists %+v", i, ps)
		}
	}
}

// Only one member knows another; the third knows nobody: beacons make the
// membership symmetric.
func TestStaticOneWay(t *testing.T) {
	addrs := threeAddrs(t)
	a := start(t, Config{Listen: addrs[0]})
	b := start(t, Config{Listen: addrs[1], Static: addrs[:1]})
	c := start(t, Config{Listen: addrs[2], Static: addrs[:1]})
	eventually(t, "a sees b and c", func() bool { return seesUp(a.Membership, addrs[1], addrs[2]) })
	eventually(t, "b and c see a", func() bool { return seesUp(b.Membership, addrs[0]) && seesUp(c.Membership, addrs[0]) })
}

func TestMulticastFindEachOther(t *testing.T) {
	addrs := threeAddrs(t)
	group := testGroup()
	var ms []member
	for _, a := range addrs {
		ms = append(ms, start(t, Config{Listen: a, Multicast: &Multicast{Group: group, Interface: "lo"}}))
	}
	took := eventually(t, "every member sees the others up by multicast", allUp(ms, addrs))
	t.Logf("3 members by multicast only: all up after %v", took)
	for _, m := range ms {
		for _, d := range m.Drops() {
			if d.Count != 0 {
				t.Errorf("%s dropped %d beacons as %s", m.Addr(), d.Count, d.Reason)
			}
		}
	}
}

// A member killed (no goodbye) is marked down by the others within
// heartbeat*down_after, and up again when it restarts; the figures are
// logged for the note.
func TestDownAndRejoin(t *testing.T) {
	for _, tc := range []struct {
		name      string
		multicast bool
	}{{name: "static"}, {name: "multicast", multicast: true}} {
		t.Run(tc.name, func(t *testing.T) {
			addrs := threeAddrs(t)
			const hb, downAfter = 200 * time.Millisecond, 3
			group := testGroup()
			cfg := func(a string) Config {
				c := Config{Listen: a, Heartbeat: hb, DownAfter: downAfter}
				if tc.multicast {
					c.Multicast = &Multicast{Group: group, Interface: "lo"}
				} else {
					c.Static = addrs
				}
				return c
			}
			var ms []member
			for _, a := range addrs {
				ms = append(ms, start(t, cfg(a)))
			}
			eventually(t, "all up", func() bool {
				return seesUp(ms[0].Membership, addrs[1], addrs[2]) && seesUp(ms[2].Membership, addrs[0], addrs[1])
			})
			oldID := ms[1].ID()
			_ = ms[1].stop(false) // as SIGKILL: no goodbye
			detect := eventually(t, "the killed member marked down by both others", func() bool {
				return seesUp(ms[0].Membership, addrs[2]) && seesUp(ms[2].Membership, addrs[0])
			})
			t.Logf("heartbeat %v, down_after %d: killed member marked down after %v (bound %v..%v after its last beacon)",
				hb, downAfter, detect, hb*downAfter-hb/2, hb*downAfter+3*hb/4)
			restarted := start(t, cfg(addrs[1]))
			rejoin := eventually(t, "the restarted member up again everywhere", func() bool {
				return seesUp(ms[0].Membership, addrs[1], addrs[2]) && seesUp(ms[2].Membership, addrs[0], addrs[1]) &&
					seesUp(restarted.Membership, addrs[0], addrs[2])
			})
			t.Logf("restarted member up again on both others, and sees them, after %v", rejoin)
			if got := ms[0].changes.kinds(addrs[1]); !slices.Equal(got, []ChangeKind{PeerUp, PeerDown, PeerRestarted}) {
				t.Errorf("changes of the killed member: %v", got)
			}
			if restarted.ID() == oldID {
				t.Error("a restart kept its id")
			}
		})
	}
}

// Close says goodbye: the others mark it down at once, not after
// down_after heartbeats.
func TestLeave(t *testing.T) {
	addrs := threeAddrs(t)
	a := start(t, Config{Listen: addrs[0], Static: addrs[:2], Heartbeat: time.Hour})
	b := start(t, Config{Listen: addrs[1], Static: addrs[:2], Heartbeat: time.Hour})
	eventually(t, "a sees b", func() bool { return seesUp(a.Membership, addrs[1]) })
	_ = b.Close()
	eventually(t, "a sees b down", func() bool { return seesUp(a.Membership) })
}

// A member with a wrong secret that lists a member as its static peer is
// never admitted, and admits nobody.
func TestWrongSecretNeverAdmitted(t *testing.T) {
	addrs := threeAddrs(t)
	group := testGroup()
	mc := &Multicast{Group: group, Interface: "lo"}
	a := start(t, Config{Listen: addrs[0], Static: addrs[:2], Multicast: mc})
	b := start(t, Config{Listen: addrs[1], Static: addrs[:2], Multicast: mc})
	x := start(t, Config{Listen: addrs[2], Static: addrs[:1], Multicast: mc, Secret: []byte("not the cluster's secret at all!")})
	// Enough of x's beacons reached a (unicast and multicast) to be sure.
	eventually(t, "a refused ten of x's beacons", func() bool { return a.Dropped("bad_mac") >= 10 })
	eventually(t, "a and b see each other", func() bool { return seesUp(a.Membership, addrs[1]) && seesUp(b.Membership, addrs[0]) })
	for _, m := range []member{a, b} {
		for _, p := range m.Peers() {
			if p.Addr == addrs[2] {
				t.Errorf("%s lists the stranger: %+v", m.Addr(), p)
			}
		}
	}
	if up := upPeers(x.Membership); len(up) != 0 {
		t.Errorf("the stranger sees %v up", up)
	}
	if x.Dropped("bad_mac") == 0 {
		t.Error("the stranger refused none of the cluster's beacons")
	}
}

// Garbage, unsigned, stale, replayed and misdirected beacons, and beacons
// announcing the member's own id or address, are dropped and counted by
// reason; none admits a peer.
func TestDroppedBeacons(t *testing.T) {
	addr := freeAddr(t, "127.0.0.2")
	m := start(t, Config{Listen: addr, Heartbeat: time.Hour})
	fake := freeAddr(t, "127.0.0.3")
	now := time.Now()
	sealer := func(at time.Time) *auth.Auth {
		a, err := auth.New(auth.Config{Secret: testSecret, Now: func() time.Time { return at }})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	seal := func(b beacon) []byte { return sealer(now).Seal(nil, auth.KindBeacon, appendBeacon(nil, b)) }
	good := seal(beacon{id: "other", addr: fake, to: addr})
	conn, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	send := func(b []byte) {
		if _, err := conn.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name   string
		msg    []byte
		reason string
	}{
		{name: "garbage", msg: []byte("stats\r\n"), reason: "garbage"},
		{name: "unsigned", msg: good[:len(good)-32], reason: "unsigned"},
		{name: "foreign secret", msg: func() []byte {
			a, _ := auth.New(auth.Config{Secret: []byte("some other cluster's secret....!")})
			return a.Seal(nil, auth.KindBeacon, appendBeacon(nil, beacon{id: "x", addr: fake, to: addr}))
		}(), reason: "bad_mac"},
		{name: "stale", msg: sealer(now.Add(-time.Minute)).Seal(nil, auth.KindBeacon, appendBeacon(nil, beacon{id: "o", addr: fake, to: addr})), reason: "stale"},
		{name: "wrong kind", msg: sealer(now).Seal(nil, auth.KindHello, appendBeacon(nil, beacon{id: "o", addr: fake, to: addr})), reason: DropWrongKind},
		{name: "malformed", msg: sealer(now).Seal(nil, auth.KindBeacon, []byte{1, 0}), reason: DropMalformed},
		{name: "misdirected", msg: seal(beacon{id: "other", addr: fake, to: "127.0.0.9:1"}), reason: DropMisdirected},
		{name: "own id", msg: seal(beacon{id: m.ID(), addr: fake, to: addr}), reason: DropOwnID},
		{name: "own address", msg: seal(beacon{id: "impostor", addr: addr, to: addr}), reason: DropOwnAddr},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := m.Dropped(tc.reason)
			send(tc.msg)
			eventually(t, "dropped as "+tc.reason, func() bool { return m.Dropped(tc.reason) == before+1 })
		})
	}
	if ps := m.Peers(); len(ps) != 0 {
		t.Fatalf("admitted %+v", ps)
	}
	t.Run("replayed", func(t *testing.T) {
		send(good)
		eventually(t, "the genuine beacon admits its peer", func() bool { return seesUp(m.Membership, fake) })
		send(good)
		eventually(t, "its replay dropped", func() bool { return m.Dropped("replayed") == 1 })
	})
}

// Close and the start context each stop every goroutine the membership
// started.
func TestGoroutinesStop(t *testing.T) {
	base := runtime.NumGoroutine()
	addrs := threeAddrs(t)
	ctx, cancel := context.WithCancel(t.Context())
	a, err := New(Config{Listen: addrs[0], Secret: testSecret, Multicast: &Multicast{Group: testGroup(), Interface: "lo"},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := New(Config{Listen: addrs[1], Secret: testSecret, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Start(ctx); err != ErrStarted {
		t.Errorf("second Start: %v", err)
	}
	if err := b.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	cancel()
	_ = b.Close()
	if err := b.Start(t.Context()); err != ErrClosed {
		t.Errorf("Start after Close: %v", err)
	}
	_ = a.Close() // after the context ended: still returns, idempotent
	_ = a.Close()
	eventually(t, "goroutines back to the baseline", func() bool { return runtime.NumGoroutine() <= base })
}

func TestBeaconRoundTrip(t *testing.T) {
	for _, b := range []beacon{
		{id: "a", addr: "127.0.0.2:11212", to: "127.0.0.3:11212"},
		{id: "0123456789abcdef", addr: "[::1]:11212", to: "239.255.77.77:7946", leaving: true},
	} {
		got, err := parseBeacon(appendBeacon(nil, b))
		if err != nil || got != b {
			t.Errorf("round trip of %+v: %+v, %v", b, got, err)
		}
	}
}

func FuzzParseBeacon(f *testing.F) {
	f.Add(appendBeacon(nil, beacon{id: "a", addr: "127.0.0.2:11212", to: "127.0.0.3:11212"}))
	f.Add([]byte{1, 0, 0})
	f.Fuzz(func(t *testing.T, p []byte) {
		b, err := parseBeacon(p)
		if err != nil {
			return
		}
		again, err := parseBeacon(appendBeacon(nil, b))
		if err != nil || again != b {
			t.Fatalf("%+v does not round-trip: %+v, %v", b, again, err)
		}
	})
}
