package thrift

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	apache "github.com/apache/thrift/lib/go/thrift"

	"github.com/fae-sidecar/fae/proto/thrift/fae"
)

// startServer serves h on a loopback port with ParseFrame and a Processor
// in a read loop, one goroutine per connection, answering each read's whole
// frames in one write. It returns the address; the test's cleanup closes
// the listener and the connections and waits for the goroutines.
func startServer(t testing.TB, h fae.FunServant) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns = map[net.Conn]struct{}{}
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
			conns[c] = struct{}{}
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := serveConn(ctx, c, NewProcessor(h)); err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, io.EOF) {
					t.Logf("test server: %v", err)
				}
				mu.Lock()
				delete(conns, c)
				mu.Unlock()
				c.Close()
			}()
		}
	}()
	t.Cleanup(func() {
		cancel()
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// serveConn is the read loop of one connection: it returns at EOF, on a
// read or write error, and on a frame that closes the connection.
func serveConn(ctx context.Context, c net.Conn, p *Processor) error {
	var in, out []byte
	buf := make([]byte, 64<<10)
	for {
		n, rerr := c.Read(buf)
		in = append(in, buf[:n]...)
		used := 0
		for {
			msg, size, err := ParseFrame(in[used:], 0)
			if errors.Is(err, ErrIncomplete) {
				break
			}
			if err == nil {
				out, err = p.Process(ctx, msg, out)
			}
			if err != nil {
				c.Write(out)
				return err
			}
			used += size
		}
		in = append(in[:0], in[used:]...)
		if len(out) > 0 {
			if _, err := c.Write(out); err != nil {
				return err
			}
			out = out[:0]
		}
		if rerr != nil {
			return rerr
		}
	}
}

// dial returns a generated client over a framed transport to addr, closed
// by the test's cleanup.
func dial(t testing.TB, addr string) *fae.FunServantClient {
	t.Helper()
	cfg := &apache.TConfiguration{ConnectTimeout: 5 * time.Second, SocketTimeout: 10 * time.Second}
	sock := apache.NewTSocketConf(addr, cfg)
	trans := apache.NewTFramedTransportConf(sock, cfg)
	if err := trans.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { trans.Close() })
	prot := apache.NewTBinaryProtocolConf(trans, cfg)
	return fae.NewFunServantClient(apache.NewTStandardClient(prot, prot))
}
