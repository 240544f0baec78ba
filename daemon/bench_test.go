package daemon

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/fae-sidecar/fae/admin"
	"github.com/fae-sidecar/fae/conf"
	"github.com/fae-sidecar/fae/internal/testproc"
	"github.com/fae-sidecar/fae/proto/thrift/fae"
)

// BenchmarkCalls runs a whole faed in this process (embedded store, so the
// figures are faed's own) and drives it over 50 loopback connections, each
// sending one request at a time: a text get beside the Thrift calls noop,
// id_next and mc_get (of the same key, through the router to the store).
// The clients send pre-encoded requests and read replies into fixed
// buffers, so they allocate nothing per call: allocs/op is faed's.
//
//	go test -run '^$' -bench Calls -benchmem ./daemon
func BenchmarkCalls(b *testing.B) {
	const conns = 50
	addr := testproc.FreePort(b)
	cfg := &conf.Config{Listen: addr, Loops: 1}
	runFaed(b, cfg)
	value := make([]byte, 100)
	seed := fmt.Appendf(nil, "set bench:key 0 0 %d\r\n%s\r\n", len(value), value)
	if err := exchange(addr, seed, len("STORED\r\n")); err != nil {
		b.Fatal(err)
	}
	cx := &fae.Context{Rid: 1, Reason: "bench"}
	for _, bc := range []struct {
		name  string
		req   []byte
		frame bool // the reply is a Thrift frame (else a fixed length)
		n     int
	}{
		{name: "text-get", req: []byte("get bench:key\r\n"), n: len("VALUE bench:key 0 100\r\n") + 100 + len("\r\nEND\r\n")},
		{name: "thrift-noop", req: testproc.ThriftCall(b, "noop", 1, &fae.FunServantNoopArgs{X: 1}), frame: true},
		{name: "thrift-id_next", req: testproc.ThriftCall(b, "id_next", 1, &fae.FunServantIDNextArgs{C: cx}), frame: true},
		{name: "thrift-mc_get", req: testproc.ThriftCall(b, "mc_get", 1, &fae.FunServantMcGetArgs{C: cx, Key: "bench:key"}), frame: true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			cs := make([]net.Conn, conns)
			for i := range cs {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				cs[i] = c
			}
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			errs := make(chan error, conns)
			for i, c := range cs {
				n := b.N / conns
				if i < b.N%conns {
					n++
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					buf := make([]byte, 64<<10)
					for range n {
						if _, err := c.Write(bc.req); err != nil {
							errs <- err
							return
						}
						if err := readReply(c, buf, bc.frame, bc.n); err != nil {
							errs <- err
							return
						}
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "calls/s")
			close(errs)
			for err := range errs {
				b.Fatal(err)
			}
		})
	}
}

// runFaed runs a faed of cfg (Defaults applied here) in this process
// until b ends, and waits for its port.
func runFaed(b *testing.B, cfg *conf.Config) {
	b.Helper()
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, cfg, Options{Build: admin.Build{Protocol: "1.6.18"}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	}()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	})
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := testproc.WaitPort(wctx, cfg.Listen); err != nil {
		b.Fatal(err)
	}
}

// readReply reads one reply: a Thrift frame, or n bytes.
func readReply(c net.Conn, buf []byte, frame bool, n int) error {
	if frame {
		if _, err := io.ReadFull(c, buf[:4]); err != nil {
			return err
		}
		n = int(binary.BigEndian.Uint32(buf))
	}
	_, err := io.ReadFull(c, buf[:n])
	return err
}

func exchange(addr string, req []byte, n int) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.Write(req); err != nil {
		return err
	}
	_, err = io.ReadFull(c, make([]byte, n))
	return err
}
