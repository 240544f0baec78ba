package testproc

import (
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
