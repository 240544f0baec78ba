package mongo

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// newPool returns a pool over uris, closed by t's cleanup.
func newPool(t testing.TB, cfg Config, uris ...string) *Pool {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = "test"
	}
	if cfg.Database == "" {
		cfg.Database = "fae_test"
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	cfg.Shards = uris
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = p.Close(ctx)
	})
	return p
}

// b encodes v with the driver's own BSON library.
func b(t testing.TB, v any) []byte {
	t.Helper()
	out, err := bson.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// decode decodes a document into a map.
func decode(t testing.TB, raw []byte) bson.M {
	t.Helper()
	var m bson.M
	if err := bson.Unmarshal(raw, &m); err != nil {
		t.Fatalf("decode %x: %v", raw, err)
	}
	return m
}

// blackHole is a TCP listener that accepts connections and never answers:
// a server that hangs. It returns its mongodb:// URI.
func blackHole(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return "mongodb://" + ln.Addr().String() + "/?directConnection=true"
}
