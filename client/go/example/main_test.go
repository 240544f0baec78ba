package main

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/thrift/lib/go/thrift"

	"github.com/fae-sidecar/fae/proto/thrift/fae"
)

// handler serves what the example calls; any other method would panic on
// the nil embedded interface.
type handler struct {
	fae.FunServant
	mu sync.Mutex
	lc map[string][]byte
}

func (*handler) Ping(context.Context, *fae.Context) (string, error)  { return "test", nil }
func (*handler) IDNext(context.Context, *fae.Context) (int64, error) { return 5<<32 | 9, nil }

func (*handler) IDDecode(_ context.Context, _ *fae.Context, id int64) ([]int64, error) {
	return []int64{1, id >> 32, 0, id & 0xffffffff}, nil
}

func (h *handler) LcSet(_ context.Context, _ *fae.Context, key string, value []byte) (bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lc[key] = value
	return true, nil
}

func (h *handler) LcGet(_ context.Context, _ *fae.Context, key string) ([]byte, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if v, ok := h.lc[key]; ok {
		return v, nil
	}
	return nil, &fae.TCacheMissed{}
}

// TestRun runs the example against apache's stock server with the
// generated processor, on a loopback port.
func TestRun(t *testing.T) {
	sock, err := thrift.NewTServerSocket("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := sock.Listen(); err != nil {
		t.Fatal(err)
	}
	srv := thrift.NewTSimpleServer4(
		fae.NewFunServantProcessor(&handler{lc: map[string][]byte{}}),
		sock,
		thrift.NewTFramedTransportFactoryConf(thrift.NewTTransportFactory(), nil),
		thrift.NewTBinaryProtocolFactoryConf(nil),
	)
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	defer func() {
		srv.Stop()
		if err := <-done; err != nil && !errors.Is(err, thrift.ErrAbandonRequest) {
			t.Errorf("Serve: %v", err)
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out strings.Builder
	if err := run(ctx, sock.Addr().String(), &out); err != nil {
		t.Fatal(err)
	}
	want := `ping: test
id_next: 21474836489 = [ms tag worker seq] [1 5 0 9]
lc_get example: "hello"
lc_get example:absent: missed
`
	if out.String() != want {
		t.Fatalf("output:\n%s\nwant:\n%s", out.String(), want)
	}
}
