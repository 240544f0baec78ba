package main_test

// Ejection without remapping: when one of a pool's two memcached servers is
// killed, its keys fail fast (no failover servers) or go to the failover
// server their hash picks among the `failover:` list; the live server's keys
// never move.

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/fae-sidecar/fae/internal/testproc"
)

// killableMemcached is a real memcached the test kills mid-way (testproc's
// are killed only when the test ends).
type killableMemcached struct {
	addr   string
	cmd    *exec.Cmd
	exited chan struct{}
}

func startKillableMemcached(t *testing.T) *killableMemcached {
	t.Helper()
	bin, err := exec.LookPath("memcached")
	if err != nil {
		t.Fatalf("memcached not found (%v): install it with `apt-get install memcached`", err)
	}
	for try := 0; ; try++ {
		m := &killableMemcached{addr: testproc.FreePort(t), exited: make(chan struct{})}
		host, port, _ := net.SplitHostPort(m.addr)
		args := []string{"-U", "0", "-l", host, "-p", port}
		if os.Geteuid() == 0 {
			args = append(args, "-u", "root") // memcached refuses root without -u
		}
		var out strings.Builder
		m.cmd = exec.Command(bin, args...)
		m.cmd.Stdout, m.cmd.Stderr = &out, &out
		if err := m.cmd.Start(); err != nil {
			t.Fatalf("start memcached: %v", err)
		}
		go func() { m.cmd.Wait(); close(m.exited) }()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := waitListening(ctx, m.addr, m.exited)
		cancel()
		if err == nil {
			t.Cleanup(m.kill)
			return m
		}
		m.kill()
		if try < 3 {
			continue // most likely the port was taken meanwhile
		}
		t.Fatalf("memcached %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
}

// kill ends memcached with SIGKILL and reaps it; a second call does nothing.
func (m *killableMemcached) kill() {
	select {
	case <-m.exited:
	default:
		m.cmd.Process.Kill()
		<-m.exited
	}
}

func TestFailover(t *testing.T) {
	cases := []struct {
		name     string
		failover bool
	}{
		{name: "fail", failover: false},
		{name: "failover", failover: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, b := testproc.StartMemcached(t), startKillableMemcached(t)
			extra := []string{"distribution: ketama", "timeout: 10s"} // "at once" below is well inside it
			var failover []string
			if tc.failover {
				failover = []string{testproc.StartMemcached(t), testproc.StartMemcached(t)}
				extra = append(extra, fmt.Sprintf("failover: [%q, %q]", failover[0], failover[1]))
			}
			faed := startFaedPool(t, []string{a, b.addr}, extra...)
			c := dialHC(t, faed)

			keys, values := numberedKeys("failover:%d", "before-%d")
			for i, k := range keys {
				if got := c.roundTrip(t, setReq(k, values[i])); got != "STORED\r\n" {
					t.Fatalf("set %s: %q", k, got)
				}
			}
			onA := getValues(t, dialHC(t, a), keys)
			var aKeys, bKeys []string
			for _, k := range keys {
				if _, ok := onA[k]; ok {
					aKeys = append(aKeys, k)
				} else {
					bKeys = append(bKeys, k)
				}
			}
			if onB := getValues(t, dialHC(t, b.addr), bKeys); len(onB) != len(bKeys) || len(aKeys) == 0 {
				t.Fatalf("keys not spread over both servers: %d on a, %d of the other %d on b", len(aKeys), len(onB), len(bKeys))
			}

			b.kill()
			if tc.failover {
				requireFailedOver(t, c, bKeys, failover)
			} else {
				requireFailFast(t, c, bKeys, b.addr)
			}

			// The live server's keys never moved: all hits through faed,
			// and still on a.
			if got := getValues(t, c, aKeys); len(got) != len(aKeys) {
				t.Fatalf("through faed, %d of the live server's %d keys", len(got), len(aKeys))
			}
			if got := getValues(t, dialHC(t, a), aKeys); len(got) != len(aKeys) {
				t.Fatalf("on a directly, %d of its %d keys", len(got), len(aKeys))
			}
			for _, f := range failover {
				if got := getValues(t, dialHC(t, f), aKeys); len(got) != 0 {
					t.Fatalf("%d of the live server's keys reached failover server %s", len(got), f)
				}
			}
		})
	}
}

// requireFailFast: without failover servers the dead server's keys get
// SERVER_ERROR naming it, at once, for reads and writes.
func requireFailFast(t *testing.T, c *hcClient, bKeys []string, b string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.HasPrefix(getOne(t, c, bKeys[0]), "SERVER_ERROR") {
		if time.Now().After(deadline) {
			t.Fatal("faed did not notice the killed server within 10s")
		}
		time.Sleep(10 * time.Millisecond) // polling faed's view of the server
	}
	for _, k := range bKeys {
		start := time.Now()
		got := getOne(t, c, k)
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("get %s took %v; a down server's keys must fail at once, not by the 10s timeout", k, took)
		}
		if want := "SERVER_ERROR upstream " + b; !strings.HasPrefix(got, want) {
			t.Fatalf("get %s: %q, want %q…", k, got, want)
		}
		if got := c.roundTrip(t, setReq(k, "during")); !strings.HasPrefix(got, "SERVER_ERROR") {
			t.Fatalf("set %s: %q, want SERVER_ERROR (never remapped)", k, got)
		}
	}
}

// requireFailedOver: the dead server's keys are written to and read from
// the failover servers, spread over them by their hash.
func requireFailedOver(t *testing.T, c *hcClient, bKeys, failover []string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for c.roundTrip(t, setReq(bKeys[0], "during-"+bKeys[0])) != "STORED\r\n" {
		if time.Now().After(deadline) {
			t.Fatal("the dead server's keys did not reach a failover server within 10s")
		}
		time.Sleep(10 * time.Millisecond) // polling faed's view of the server
	}
	for _, k := range bKeys {
		if got := c.roundTrip(t, setReq(k, "during-"+k)); got != "STORED\r\n" {
			t.Fatalf("set %s with its server down: %q", k, got)
		}
	}
	got := getValues(t, c, bKeys)
	for _, k := range bKeys {
		if got[k] != "during-"+k {
			t.Fatalf("get %s through faed: %q, want %q", k, got[k], "during-"+k)
		}
	}
	seen := map[string]string{}
	for _, f := range failover {
		on := getValues(t, dialHC(t, f), bKeys)
		if len(on) == 0 {
			t.Errorf("failover server %s got none of the %d keys: the list is not hashed", f, len(bKeys))
		}
		for k := range on {
			if other, dup := seen[k]; dup {
				t.Fatalf("key %s is on failover servers %s and %s", k, other, f)
			}
			seen[k] = f
		}
	}
	if len(seen) != len(bKeys) {
		t.Fatalf("%d of the dead server's %d keys are on the failover servers", len(seen), len(bKeys))
	}
}

func setReq(key, value string) string {
	return fmt.Sprintf("set %s 0 0 %d\r\n%s\r\n", key, len(value), value)
}

// getOne gets one key and returns the whole reply.
func getOne(t *testing.T, c *hcClient, key string) string {
	t.Helper()
	first := c.roundTrip(t, "get "+key+"\r\n")
	if !strings.HasPrefix(first, "VALUE ") {
		return first
	}
	reply := first
	for !strings.HasSuffix(reply, "END\r\n") {
		line, err := c.br.ReadString('\n')
		if err != nil {
			t.Fatalf("get %s: %v", key, err)
		}
		reply += line
	}
	return reply
}
