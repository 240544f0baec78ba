// Command memberlist is the experiment behind peers' choice of a home-made
// heartbeat watchdog over hashicorp/memberlist (SWIM): on loopback, a member
// with a wrong SecretKey tries to join, then three members on 127.0.0.2-4
// lose one shut down without leaving (as a SIGKILL), five rounds per
// configuration, and it prints the time until the first member marks it
// dead. It is its own module so fae does not depend on memberlist:
//
//	cd bench/memberlist && go run .
//
// Compare with TestDownAndRejoin in peers (go test -v -run DownAndRejoin ./peers).
package main

import (
	"crypto/sha256"
	"fmt"
	"io"
	"log"
	"os"
	"sort"
	"time"

	"github.com/hashicorp/memberlist"
)

type events struct {
	dead chan time.Time
	join chan string
}

func (e *events) NotifyJoin(n *memberlist.Node) {
	select {
	case e.join <- n.Name:
	default:
	}
}
func (e *events) NotifyLeave(n *memberlist.Node) {
	if n.Name == "n2" {
		select {
		case e.dead <- time.Now():
		default:
		}
	}
}
func (e *events) NotifyUpdate(n *memberlist.Node) {}

func node(name, ip string, port int, key []byte, tune func(*memberlist.Config), ev *events) *memberlist.Memberlist {
	c := memberlist.DefaultLANConfig()
	c.Name = name
	c.BindAddr = ip
	c.BindPort = port
	c.AdvertiseAddr = ip
	c.AdvertisePort = port
	c.SecretKey = key
	c.LogOutput = io.Discard
	if tune != nil {
		tune(c)
	}
	if ev != nil {
		c.Events = ev
	}
	m, err := memberlist.Create(c)
	if err != nil {
		log.Fatal(err)
	}
	return m
}

func run(label string, port int, tune func(*memberlist.Config), rounds int) {
	key := sha256.Sum256([]byte("cluster secret"))
	var times []time.Duration
	for r := 0; r < rounds; r++ {
		p := port + r*10
		ev := &events{dead: make(chan time.Time, 1), join: make(chan string, 16)}
		a := node("n1", "127.0.0.2", p, key[:], tune, ev)
		b := node("n2", "127.0.0.3", p, key[:], tune, nil)
		c := node("n3", "127.0.0.4", p, key[:], tune, nil)
		if _, err := b.Join([]string{fmt.Sprintf("127.0.0.2:%d", p)}); err != nil {
			log.Fatal(err)
		}
		if _, err := c.Join([]string{fmt.Sprintf("127.0.0.2:%d", p)}); err != nil {
			log.Fatal(err)
		}
		for a.NumMembers() < 3 {
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(500 * time.Millisecond) // settle
		t0 := time.Now()
		_ = b.Shutdown() // no Leave: the others must detect it
		select {
		case t := <-ev.dead:
			times = append(times, t.Sub(t0))
		case <-time.After(60 * time.Second):
			times = append(times, -1)
		}
		_ = a.Shutdown()
		_ = c.Shutdown()
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	fmt.Printf("%s: detection %v (min %v, median %v, max %v)\n", label, times, times[0], times[len(times)/2], times[len(times)-1])
}

func wrongSecret(port int) {
	key := sha256.Sum256([]byte("cluster secret"))
	bad := sha256.Sum256([]byte("another secret"))
	a := node("n1", "127.0.0.2", port, key[:], nil, nil)
	x := node("x", "127.0.0.5", port, bad[:], nil, nil)
	_, err := x.Join([]string{fmt.Sprintf("127.0.0.2:%d", port)})
	time.Sleep(2 * time.Second)
	fmt.Printf("wrong SecretKey: Join error %v; members seen by n1: %d, by x: %d\n", err, a.NumMembers(), x.NumMembers())
	_ = a.Shutdown()
	_ = x.Shutdown()
}

func main() {
	wrongSecret(17000)
	rounds := 5
	run("memberlist LAN defaults (probe 1s, timeout 500ms, suspicion x4)", 17100, nil, rounds)
	run("memberlist tuned (probe 200ms, timeout 100ms, suspicion x4, gossip 50ms)", 17200, func(c *memberlist.Config) {
		c.ProbeInterval = 200 * time.Millisecond
		c.ProbeTimeout = 100 * time.Millisecond
		c.GossipInterval = 50 * time.Millisecond
	}, rounds)
	run("memberlist tuned (probe 200ms, timeout 100ms, suspicion x1, gossip 50ms)", 17300, func(c *memberlist.Config) {
		c.ProbeInterval = 200 * time.Millisecond
		c.ProbeTimeout = 100 * time.Millisecond
		c.GossipInterval = 50 * time.Millisecond
		c.SuspicionMult = 1
	}, rounds)
	os.Exit(0)
}
