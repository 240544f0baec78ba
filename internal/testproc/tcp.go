package testproc

import (
	"net"
	"sync"
	"testing"
	"time"
)

// ServeTCP listens on a free loopback port and serves every connection
// with serve, each in a goroutine of its own, until the test ends: then it
// closes the listener and every connection and waits for the goroutines.
// It returns the address. For a server whose behaviour a test scripts
// (echo, a wrong reply, a flood); memcached and faed have their own.
func ServeTCP(t testing.TB, serve func(net.Conn)) (addr string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() { serve(c) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// WaitFor polls cond every 2ms until it holds, and fails the test when it
// still does not after 30s (a bound on a broken case on a loaded machine,
// not a timing the test checks).
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
