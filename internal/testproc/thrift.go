package testproc

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	apache "github.com/apache/thrift/lib/go/thrift"

	"github.com/fae-sidecar/fae/proto/thrift/fae"
)

// ThriftClient dials addr with the stock Go client (framed transport,
// binary protocol), closed in t.Cleanup.
func ThriftClient(t testing.TB, addr string) *fae.FunServantClient {
	t.Helper()
	sock := apache.NewTSocketConf(addr, &apache.TConfiguration{ConnectTimeout: 5 * time.Second, SocketTimeout: 20 * time.Second})
	tr := apache.NewTFramedTransportConf(sock, nil)
	if err := tr.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return fae.NewFunServantClientFactory(tr, apache.NewTBinaryProtocolFactoryConf(nil))
}

// ThriftCall encodes one framed call of name with args and sequence id
// seq, as the stock client sends it (strict binary protocol).
func ThriftCall(t testing.TB, name string, seq int32, args apache.TStruct) []byte {
	t.Helper()
	mem := apache.NewTMemoryBuffer()
	p := apache.NewTBinaryProtocolConf(mem, nil)
	ctx := context.Background()
	if err := p.WriteMessageBegin(ctx, name, apache.CALL, seq); err != nil {
		t.Fatal(err)
	}
	if err := args.Write(ctx, p); err != nil {
		t.Fatal(err)
	}
	_ = p.WriteMessageEnd(ctx)
	msg := mem.Bytes()
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(msg))), msg...)
}
