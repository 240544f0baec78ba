package testproc

import (
	"context"
	"net"
	"sync"
	"testing"
)

// Fake is a TCP server on 127.0.0.1 that hands each connection it accepts
// to the test's handler: a server that misbehaves as the test says (hangs,
// answers garbage, relays and stalls). It stops when the test ends: the
// listener and every connection are closed, and every handler is waited
// for.
type Fake struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
}

// StartFake listens on a free port of 127.0.0.1 with lc (its Control sets
// socket options; the zero value is plain) and runs handle for each
// connection, in a goroutine of its own.
func StartFake(t testing.TB, lc net.ListenConfig, handle func(nc net.Conn)) *Fake {
	t.Helper()
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &Fake{ln: ln}
	f.wg.Go(func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			f.mu.Lock()
			f.conns = append(f.conns, nc)
			f.mu.Unlock()
			f.wg.Go(func() { handle(nc) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		f.CloseConns()
		f.wg.Wait()
	})
	return f
}

// Addr is the address the fake listens on.
func (f *Fake) Addr() string { return f.ln.Addr().String() }

// Conns returns the connections accepted so far, the latest last.
func (f *Fake) Conns() []net.Conn {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]net.Conn(nil), f.conns...)
}

// CloseConns closes every connection accepted so far.
func (f *Fake) CloseConns() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, nc := range f.conns {
		nc.Close()
	}
}
