package main_test

// Three faed processes find each other as peers (by static list, and by
// multicast on lo only), report them in "stats peers", and mark one down
// after SIGKILL and up again after its restart.

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fae-sidecar/fae/internal/testproc"
)

// statsPeers returns faed's "stats peers" as peer address -> up/down.
func statsPeers(t *testing.T, addr string) map[string]string {
	t.Helper()
	got := map[string]string{}
	for name, v := range statsOf(t, addr, "stats peers") {
		peer, ok := strings.CutPrefix(name, "peer:")
		if !ok || v != "up" && v != "down" {
			t.Fatalf("stats peers: STAT %s %s", name, v)
		}
		got[peer] = v
	}
	return got
}

func TestPeersMembership(t *testing.T) { bothModes(t, testPeersMembership) }

// bothModes runs test with peers found by static list, then by multicast.
func bothModes(t *testing.T, test func(t *testing.T, mode string)) {
	for _, mode := range []string{"static", "multicast"} {
		t.Run(mode, func(t *testing.T) { test(t, mode) })
	}
}

// testPeerAddrs returns n free peer addresses on 127.0.0.2, .3, ... and a
// multicast group on a free port.
func testPeerAddrs(t *testing.T, n int) (addrs []string, group string) {
	for i := range n {
		_, port, _ := net.SplitHostPort(testproc.FreePort(t))
		addrs = append(addrs, fmt.Sprintf("127.0.0.%d:%s", 2+i, port))
	}
	return addrs, fmt.Sprintf("239.255.77.77:%s", strings.Split(testproc.FreePort(t), ":")[1])
}

func testPeersMembership(t *testing.T, mode string) {
	peerAddrs, group := testPeerAddrs(t, 3)
	dir := t.TempDir()
	adminAddr := testproc.FreePort(t)
	start := func(i int) *testproc.Faed {
		cfg := ""
		if i == 0 {
			cfg = fmt.Sprintf("admin: %s\n", adminAddr)
		}
		cfg += fmt.Sprintf("peers:\n  listen: %s\n  secret: \"sixteen-byte-secret-for-the-test\"\n  heartbeat: 100ms\n  down_after: 3\n", peerAddrs[i])
		if mode == "static" {
			cfg += fmt.Sprintf("  static: [%q, %q, %q]\n", peerAddrs[0], peerAddrs[1], peerAddrs[2])
		} else {
			cfg += fmt.Sprintf("  multicast: {group: %q, interface: lo}\n", group)
		}
		path := filepath.Join(dir, fmt.Sprintf("faed%d.yaml", i))
		if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		return testproc.StartFaedProc(t, "-config", path)
	}
	faeds := []*testproc.Faed{start(0), start(1), start(2)}
	for i, f := range faeds {
		testproc.WaitFor(t, fmt.Sprintf("faed %d sees both others up", i), func() bool {
			got := statsPeers(t, f.Addr)
			n := 0
			for j, a := range peerAddrs {
				if j != i && got[a] == "up" {
					n++
				}
			}
			return n == 2
		})
	}
	// The admin API's /stats lists the peers too.
	var snap struct {
		Peers []struct {
			Addr string `json:"addr"`
			Up   bool   `json:"up"`
		} `json:"peers"`
	}
	resp, err := http.Get("http://" + adminAddr + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	err = json.NewDecoder(resp.Body).Decode(&snap)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Peers) != 2 || !snap.Peers[0].Up || !snap.Peers[1].Up {
		t.Errorf("/stats peers = %+v, want the 2 others up", snap.Peers)
	}
	strangerBeacons(t, mode, peerAddrs[0], group, adminAddr)
	if err := faeds[2].Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	_ = faeds[2].Wait(10 * time.Second)
	testproc.WaitFor(t, "the killed peer marked down by both others", func() bool {
		return statsPeers(t, faeds[0].Addr)[peerAddrs[2]] == "down" && statsPeers(t, faeds[1].Addr)[peerAddrs[2]] == "down"
	})
	t.Logf("%s: SIGKILL to marked down by both: %v (heartbeat 100ms, down_after 3)", mode, time.Since(killed).Round(time.Millisecond))
	restarted := time.Now()
	faeds[2] = start(2)
	testproc.WaitFor(t, "the restarted peer up again on both others", func() bool {
		return statsPeers(t, faeds[0].Addr)[peerAddrs[2]] == "up" && statsPeers(t, faeds[1].Addr)[peerAddrs[2]] == "up"
	})
	t.Logf("%s: restart (process start included) to up on both: %v", mode, time.Since(restarted).Round(time.Millisecond))
	for _, f := range faeds {
		if err := f.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if err := f.Wait(15 * time.Second); err != nil {
			t.Errorf("faed after SIGTERM: %v", err)
		}
	}
}

// beaconsDropped reads faed's counts of refused beacons from its admin API.
func beaconsDropped(t *testing.T, adminAddr string) map[string]uint64 {
	t.Helper()
	var snap struct {
		Dropped map[string]uint64 `json:"beacons_dropped"`
	}
	resp, err := http.Get("http://" + adminAddr + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&snap); err != nil {
		t.Fatal(err)
	}
	return snap.Dropped
}

// strangerBeacons sends garbage, and in multicast mode a real beacon
// captured from the group, to the member at peerAddr (whose admin API is
// adminAddr): it drops and counts them, and its peers stay as they were.
func strangerBeacons(t *testing.T, mode, peerAddr, group, adminAddr string) {
	t.Helper()
	before := beaconsDropped(t, adminAddr)
	c, err := net.Dial("udp", peerAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	garbage := [][]byte{[]byte("garbage"), make([]byte, 300), []byte("FAE1 not a sealed beacon at all")}
	for _, g := range garbage {
		if _, err := c.Write(g); err != nil {
			t.Fatal(err)
		}
	}
	testproc.WaitFor(t, "the garbage datagrams dropped and counted", func() bool {
		d := beaconsDropped(t, adminAddr)
		return d["garbage"]+d["unsigned"]+d["bad_mac"] >= before["garbage"]+before["unsigned"]+before["bad_mac"]+uint64(len(garbage))
	})
	if mode != "multicast" {
		return
	}
	// Capture a member's beacon from the group and send it again: the
	// member at peerAddr has seen its nonce (replayed), or sees a beacon
	// sealed for the group arrive at its own port (misdirected); either way
	// it is dropped, and counted.
	gaddr, err := net.ResolveUDPAddr("udp4", group)
	if err != nil {
		t.Fatal(err)
	}
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	mc, err := net.ListenMulticastUDP("udp4", lo, gaddr)
	if err != nil {
		t.Fatal(err)
	}
	defer mc.Close()
	_ = mc.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 2048)
	n, _, err := mc.ReadFromUDP(buf)
	if err != nil {
		t.Fatalf("no beacon heard on the group: %v", err)
	}
	if _, err := c.Write(buf[:n]); err != nil {
		t.Fatal(err)
	}
	testproc.WaitFor(t, "the replayed beacon dropped and counted", func() bool {
		d := beaconsDropped(t, adminAddr)
		return d["replayed"]+d["misdirected"] > before["replayed"]+before["misdirected"]
	})
	t.Logf("beacons dropped by the member: %v", beaconsDropped(t, adminAddr))
}
