package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fae-sidecar/fae/internal/testproc"
)

// mcStat reads one general stat of the memcached at addr.
func mcStat(t *testing.T, addr, name string) uint64 {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte("stats\r\n")); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if line == "END\r\n" {
			t.Fatalf("stat %s not found", name)
		}
		f := strings.Fields(line)
		if len(f) == 3 && f[1] == name {
			v, err := strconv.ParseUint(f[2], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
	}
}

// roundTrip sends req on a fresh connection and reads len(want) bytes.
func roundTrip(addr, req string, n int) (string, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := c.Write([]byte(req)); err != nil {
		return "", err
	}
	buf := make([]byte, n)
	_, err = io.ReadFull(c, buf)
	return string(buf), err
}

// 200 connections reading one cold key at once reach memcached as a
// handful of gets, not 200: faed merges reads of one key in flight. To make
// "at once" certain on a loaded machine, memcached is stopped (SIGSTOP)
// until faed has every get in hand, under a timeout long enough for that.
func TestCoalescedHotKey(t *testing.T) {
	m := testproc.StartMemcachedProc(t)
	mc := m.Addr
	value := strings.Repeat("v", 100)
	if got, err := roundTrip(mc, "set hot 0 0 100\r\n"+value+"\r\n", len("STORED\r\n")); err != nil || got != "STORED\r\n" {
		t.Fatalf("seed: %q %v", got, err)
	}
	cfg := filepath.Join(t.TempDir(), "faed.yaml")
	conf := fmt.Sprintf("pools:\n  default: {kind: memcache, servers: [%q], timeout: 30s}\n", mc)
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	faed := testproc.StartFaed(t, "-config", cfg)
	// Open faed's connections to memcached before it stops.
	if got, err := roundTrip(faed, "get warm\r\n", len("END\r\n")); err != nil || got != "END\r\n" {
		t.Fatalf("warm-up: %q %v", got, err)
	}
	before := mcStat(t, mc, "cmd_get")
	if err := m.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := true
	defer func() {
		if stopped {
			_ = m.Signal(syscall.SIGCONT)
		}
	}()

	const clients = 200
	want := "VALUE hot 0 100\r\n" + value + "\r\nEND\r\n"
	conns := make([]net.Conn, clients)
	for i := range conns {
		c, err := net.Dial("tcp", faed)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns[i] = c
	}
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	start := make(chan struct{})
	for _, c := range conns {
		wg.Add(1)
		go func(c net.Conn) {
			defer wg.Done()
			<-start
			_ = c.SetDeadline(time.Now().Add(20 * time.Second))
			if _, err := c.Write([]byte("get hot\r\n")); err != nil {
				errs <- err
				return
			}
			buf := make([]byte, len(want))
			if _, err := io.ReadFull(c, buf); err != nil || string(buf) != want {
				errs <- fmt.Errorf("got %q, %v", buf, err)
			}
		}(c)
	}
	close(start)
	// Every get is in faed once all but the leaders joined a flight (one
	// leader per event loop at most: -loops 3).
	for deadline := time.Now().Add(30 * time.Second); mcStat(t, faed, "coalesced_gets") < clients-3; {
		if time.Now().After(deadline) {
			t.Fatalf("coalesced_gets %d after 30s, want %d", mcStat(t, faed, "coalesced_gets"), clients-3)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := m.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	stopped = false
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	upstream := mcStat(t, mc, "cmd_get") - before
	t.Logf("%d client gets, %d upstream gets", clients, upstream)
	if upstream > clients/10 {
		t.Errorf("%d upstream gets for %d concurrent client gets of one key; want <= %d", upstream, clients, clients/10)
	}
}

// With L1 on, a write through faed is read back at once, and a repeated
// read is served without memcached.
func TestL1ReadYourWrites(t *testing.T) {
	mc := testproc.StartMemcached(t)
	cfg := filepath.Join(t.TempDir(), "faed.yaml")
	conf := fmt.Sprintf("pools:\n  default:\n    kind: memcache\n    servers: [%q]\n    l1: {max_bytes: 1MiB, ttl: 1m}\n", mc)
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	faed := testproc.StartFaed(t, "-config", cfg)
	c, err := net.Dial("tcp", faed)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	r := bufio.NewReader(c)
	step := func(req, want string) {
		t.Helper()
		if _, err := c.Write([]byte(req)); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, len(want))
		if _, err := io.ReadFull(r, buf); err != nil || string(buf) != want {
			t.Fatalf("%q: got %q, %v; want %q", req, buf, err, want)
		}
	}
	step("set k 0 0 1\r\na\r\n", "STORED\r\n")
	step("get k\r\n", "VALUE k 0 1\r\na\r\nEND\r\n")
	before := mcStat(t, mc, "cmd_get")
	for range 10 {
		step("get k\r\n", "VALUE k 0 1\r\na\r\nEND\r\n")
	}
	if n := mcStat(t, mc, "cmd_get") - before; n != 0 {
		t.Errorf("%d gets reached memcached; L1 should have served them", n)
	}
	// Pipelined write then read: the read must see the write.
	step("set k 0 0 1\r\nb\r\nget k\r\n", "STORED\r\nVALUE k 0 1\r\nb\r\nEND\r\n")
	step("delete k\r\nget k\r\n", "DELETED\r\nEND\r\n")
}
