package mongo

import (
	"context"
	"net"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/fae-sidecar/fae/internal/testproc"
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
	addr := testproc.ServeTCP(t, func(net.Conn) {}) // held open, never read
	return "mongodb://" + addr + "/?directConnection=true"
}
