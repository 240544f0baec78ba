package server

import (
	"net"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fae-sidecar/fae/upstream/local"
)

// BenchmarkChunkedSet sends a 1 MiB set to a real server over loopback in
// 128-byte writes and waits for STORED: one op is one set. Each write
// waits until the server has read the one before, so the server sees the
// value in 8,193 read events, as it does from a client on a slow link.
// ns/op and B/op include the client's side.
func BenchmarkChunkedSet(b *testing.B) {
	const size, chunk = 1 << 20, 128
	s, _ := startServer(b, Config{MaxItemSize: 2 << 20}, local.New(local.Config{MaxItemSize: 2 << 20}))
	c, r := dial(b, s.cfg.Addr)
	req := []byte("set k 0 0 " + strconv.Itoa(size) + "\r\n" + strings.Repeat("v", size) + "\r\n")
	b.SetBytes(int64(len(req)))
	b.ReportAllocs()
	for b.Loop() {
		feed(b, s, c, req, chunk)
		line, err := r.ReadString('\n')
		if err != nil || line != "STORED\r\n" {
			b.Fatalf("set answered %q, %v", line, err)
		}
	}
}

// feed writes req to c in writes of chunk bytes, each once the server has
// read the one before, so that each is a read event of its own. c must be
// the only connection sending to s.
func feed(t testing.TB, s *Server, c net.Conn, req []byte, chunk int) {
	t.Helper()
	for i := 0; i < len(req); i += chunk {
		want := s.stats.bytesRead.Load() + uint64(min(chunk, len(req)-i))
		if _, err := c.Write(req[i:min(i+chunk, len(req))]); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for s.stats.bytesRead.Load() < want {
			if time.Now().After(deadline) {
				t.Fatalf("the server did not read bytes %d-%d of the request", i, i+chunk)
			}
			runtime.Gosched()
		}
	}
}
