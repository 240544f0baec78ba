package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	apache "github.com/apache/thrift/lib/go/thrift"

	"github.com/fae-sidecar/fae/internal/testproc"
	"github.com/fae-sidecar/fae/proto/thrift"
	"github.com/fae-sidecar/fae/proto/thrift/fae"
)

// fakeServant implements the few methods the tests call; any other method
// panics (the embedded interface is nil), which tests the panic path.
// McGet blocks until released, and runs off the loop.
type fakeServant struct {
	fae.FunServant
	release chan struct{}
}

func (f *fakeServant) Blocks(m thrift.Method) bool { return m == thrift.MethodMcGet }

func (f *fakeServant) Ping(context.Context, *fae.Context) (string, error) { return "1.6.18", nil }

func (f *fakeServant) Noop(_ context.Context, x int32) (int32, error) { return x, nil }

func (f *fakeServant) McGet(ctx context.Context, _ *fae.Context, pool, key string) (*fae.TMemcacheData, error) {
	select {
	case <-f.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if key == "missing" {
		return nil, &fae.TCacheMissed{}
	}
	return &fae.TMemcacheData{Data: []byte("value of " + key), Flags: 7}, nil
}

func startThrift(t *testing.T, cfg Config) (addr string, f *fakeServant) {
	t.Helper()
	_, addr, f = startThriftServer(t, cfg)
	return addr, f
}

func startThriftServer(t *testing.T, cfg Config) (s *Server, addr string, f *fakeServant) {
	t.Helper()
	f = &fakeServant{release: make(chan struct{})}
	cfg.Thrift = f
	s, _ = startServer(t, cfg, &gateHandler{})
	return s, s.cfg.Addr, f
}

// readReply reads one framed reply and returns its name, type and seqid,
// and the protocol positioned at its body.
func readReply(t *testing.T, r io.Reader) (string, apache.TMessageType, int32, apache.TProtocol) {
	t.Helper()
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		t.Fatalf("read frame: %v", err)
	}
	msg := make([]byte, binary.BigEndian.Uint32(n[:]))
	if _, err := io.ReadFull(r, msg); err != nil {
		t.Fatalf("read frame: %v", err)
	}
	mem := apache.NewTMemoryBuffer()
	mem.Write(msg)
	p := apache.NewTBinaryProtocolConf(mem, nil)
	name, typ, seq, err := p.ReadMessageBegin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return name, typ, seq, p
}

func TestThriftCalls(t *testing.T) {
	addr, f := startThrift(t, Config{})
	c := testproc.ThriftClient(t, addr)
	ctx := context.Background()
	if v, err := c.Ping(ctx, &fae.Context{}); err != nil || v != "1.6.18" {
		t.Errorf("ping = %q, %v", v, err)
	}
	if v, err := c.Noop(ctx, 42); err != nil || v != 42 {
		t.Errorf("noop = %d, %v", v, err)
	}
	go func() { f.release <- struct{}{}; f.release <- struct{}{} }()
	d, err := c.McGet(ctx, &fae.Context{}, "", "k")
	if err != nil || string(d.Data) != "value of k" || d.Flags != 7 {
		t.Errorf("mc_get = %v, %v", d, err)
	}
	var miss *fae.TCacheMissed
	if _, err := c.McGet(ctx, &fae.Context{}, "", "missing"); !errors.As(err, &miss) {
		t.Errorf("mc_get missing: %v, want TCacheMissed", err)
	}
	// A method the fake lacks panics in the handler: the call gets an
	// exception and the connection and server go on.
	var ae apache.TApplicationException
	if _, err := c.IDNext(ctx, &fae.Context{}); !errors.As(err, &ae) || ae.TypeId() != apache.INTERNAL_ERROR {
		t.Errorf("panicking call: %v, want INTERNAL_ERROR", err)
	}
	if v, err := c.Noop(ctx, 7); err != nil || v != 7 {
		t.Errorf("noop after a panic = %d, %v", v, err)
	}
}

// Calls pipelined on one connection are answered in order with their
// sequence ids, a blocking one holding back the fast ones behind it;
// text clients on other connections of the port are served meanwhile.
func TestThriftPipelinedInOrder(t *testing.T) {
	addr, f := startThrift(t, Config{})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var req bytes.Buffer
	type call struct {
		name string
		seq  int32
	}
	var calls []call
	for i := range 30 {
		seq := int32(1000 + i)
		if i%10 == 3 {
			req.Write(testproc.ThriftCall(t, "mc_get", seq, &fae.FunServantMcGetArgs{C: &fae.Context{}, Key: fmt.Sprint("k", i)}))
			calls = append(calls, call{"mc_get", seq})
		} else {
			req.Write(testproc.ThriftCall(t, "noop", seq, &fae.FunServantNoopArgs{X: seq}))
			calls = append(calls, call{"noop", seq})
		}
	}
	if _, err := c.Write(req.Bytes()); err != nil {
		t.Fatal(err)
	}
	// A text client on the same port while Thrift calls wait.
	tc, r := dial(t, addr)
	if _, err := tc.Write([]byte("version\r\n")); err != nil {
		t.Fatal(err)
	}
	if line, _ := r.ReadString('\n'); line != "VERSION 0.0.0\r\n" {
		t.Errorf("text client: %q", line)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 3 {
			f.release <- struct{}{}
		}
	}()
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	for _, want := range calls {
		name, typ, seq, p := readReply(t, c)
		if name != want.name || seq != want.seq || typ != apache.REPLY {
			t.Fatalf("reply %s/%d type %d, want %s/%d", name, seq, typ, want.name, want.seq)
		}
		if name == "noop" {
			var res fae.FunServantNoopResult
			if err := res.Read(context.Background(), p); err != nil || res.Success == nil || *res.Success != seq {
				t.Errorf("noop %d: %v %v", seq, res.Success, err)
			}
		}
	}
	wg.Wait()
}

// An oversized frame gets a TApplicationException and is swallowed; the
// connection goes on. A frame that is no Thrift message closes it.
func TestThriftBadFrames(t *testing.T) {
	addr, _ := startThrift(t, Config{MaxThriftFrame: 1024})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	big := testproc.ThriftCall(t, "lc_set", 5, &fae.FunServantLcSetArgs{C: &fae.Context{}, Key: "k", Value: make([]byte, 4000)})
	if _, err := c.Write(append(big, testproc.ThriftCall(t, "noop", 6, &fae.FunServantNoopArgs{X: 6})...)); err != nil {
		t.Fatal(err)
	}
	name, typ, seq, p := readReply(t, c)
	if name != "lc_set" || typ != apache.EXCEPTION || seq != 5 {
		t.Fatalf("oversized frame: %s %d %d", name, typ, seq)
	}
	ae := apache.NewTApplicationException(0, "")
	if err := ae.Read(context.Background(), p); err != nil || ae.TypeId() != apache.PROTOCOL_ERROR {
		t.Errorf("oversized frame: exception %v %v", ae, err)
	}
	if name, _, seq, _ := readReply(t, c); name != "noop" || seq != 6 {
		t.Errorf("after the oversized frame: %s %d", name, seq)
	}
	// Not a strict binary-protocol message: closed without a reply.
	if _, err := c.Write([]byte{0, 0, 0, 20, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("after a bad message: read %d, %v; want EOF", n, err)
	}
	// The server serves others.
	if v, err := testproc.ThriftClient(t, addr).Noop(context.Background(), 9); err != nil || v != 9 {
		t.Errorf("noop on a new connection = %d, %v", v, err)
	}
}

func (f *fakeServant) LcSet(_ context.Context, _ *fae.Context, key string, value []byte) (bool, error) {
	return len(value) == 1<<20 && value[len(value)-1] == 'z', nil
}

// A large frame that arrives in pieces is read whole (out of gnet, under
// max_partial); past max_partial it is refused with an exception and
// skipped, and the connection goes on.
func TestThriftPartialFrames(t *testing.T) {
	s, addr, _ := startThriftServer(t, Config{MaxPartial: 3 << 20})
	value := bytes.Repeat([]byte("a"), 1<<20)
	value[len(value)-1] = 'z'
	frame := testproc.ThriftCall(t, "lc_set", 3, &fae.FunServantLcSetArgs{C: &fae.Context{}, Key: "big", Value: value})
	send := func(c net.Conn) {
		for off := 0; off < len(frame); off += 64 << 10 {
			if _, err := c.Write(frame[off:min(off+64<<10, len(frame))]); err != nil {
				t.Fatal(err)
			}
		}
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	send(c)
	name, typ, seq, p := readReply(t, c)
	var res fae.FunServantLcSetResult
	if err := res.Read(context.Background(), p); name != "lc_set" || typ != apache.REPLY || seq != 3 || err != nil || res.Success == nil || !*res.Success {
		t.Fatalf("lc_set of 1 MiB in pieces: %s %d %d %v %v", name, typ, seq, res.Success, err)
	}
	// Three connections hold a partial 1 MiB frame each: the third is over
	// max_partial (3 MiB) and is refused, and its connection goes on.

	for range 2 {
		h, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		if _, err := h.Write(frame[:len(frame)/2]); err != nil {
			t.Fatal(err)
		}

	}
	testproc.WaitFor(t, "two partial frames held", func() bool { return s.partial.Load() >= 2*int64(len(frame)) })
	send(c)
	name, typ, seq, p = readReply(t, c)
	ae := apache.NewTApplicationException(0, "")
	if name != "lc_set" || typ != apache.EXCEPTION || seq != 3 || ae.Read(context.Background(), p) != nil || ae.TypeId() != apache.PROTOCOL_ERROR {
		t.Fatalf("over max_partial: %s %d %d %v", name, typ, seq, ae)
	}
	if _, err := c.Write(testproc.ThriftCall(t, "noop", 4, &fae.FunServantNoopArgs{X: 4})); err != nil {
		t.Fatal(err)
	}
	if name, _, seq, _ := readReply(t, c); name != "noop" || seq != 4 {
		t.Errorf("after the refused frame: %s %d", name, seq)
	}

}
