package daemon

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	driver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/fae-sidecar/fae/conf"
	"github.com/fae-sidecar/fae/internal/ferrettest"
	"github.com/fae-sidecar/fae/internal/testproc"
	"github.com/fae-sidecar/fae/proto/thrift/fae"
)

// BenchmarkMgFindOne runs FerretDB (SQLite) and a whole faed with a mongo
// pool over it in this process, and drives mg_find_one of one document
// by _id over conns loopback connections, each sending one call at a time
// (faed), beside the same FindOne from the driver straight to FerretDB
// with as many goroutines (direct): the difference is what going through
// faed costs. Both share the 2 CPUs with FerretDB, which dominates.
// Reports calls/s and the calls' p50 and p99 in microseconds.
//
//	go test -run '^$' -bench MgFindOne -benchtime 3000x ./daemon
func BenchmarkMgFindOne(b *testing.B) {
	srv := ferrettest.Start(b)
	addr := testproc.FreePort(b)
	cfg := &conf.Config{Listen: addr, Loops: 1, Pools: map[string]*conf.Pool{
		"users": {Kind: conf.KindMongo, Mongo: conf.Mongo{Shards: map[int]string{0: srv.URI}, Database: "bench"}},
	}}
	runFaed(b, cfg)
	ctx := context.Background()
	direct, err := driver.Connect(options.Client().ApplyURI(srv.URI).SetMaxPoolSize(32))
	if err != nil {
		b.Fatal(err)
	}
	defer direct.Disconnect(context.Background())
	coll := direct.Database("bench").Collection("users")
	id := bson.NewObjectID()
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "name", Value: "ann"}, {Key: "age", Value: 31}}); err != nil {
		b.Fatal(err)
	}
	query, err := bson.Marshal(bson.D{{Key: "_id", Value: id}})
	if err != nil {
		b.Fatal(err)
	}
	frame := testproc.ThriftCall(b, "mg_find_one", 1, &fae.FunServantMgFindOneArgs{
		C: &fae.Context{Rid: 1, Reason: "bench"}, Pool: "users", Table: "users", Query: query})

	// What faed's hop costs without MongoDB: id_next also runs on a
	// worker.
	idNext := testproc.ThriftCall(b, "id_next", 1, &fae.FunServantIDNextArgs{C: &fae.Context{Rid: 1, Reason: "bench"}})
	for _, conns := range []int{1, 16} {
		b.Run(fmt.Sprintf("faed-id_next-%dconns", conns), func(b *testing.B) {
			cs := dialAll(b, addr, conns)
			runCalls(b, conns, func(i int, buf []byte) error {
				if _, err := cs[i].Write(idNext); err != nil {
					return err
				}
				return readReply(cs[i], buf, true, 0)
			})
		})
		b.Run(fmt.Sprintf("faed-%dconns", conns), func(b *testing.B) {
			cs := dialAll(b, addr, conns)
			runCalls(b, conns, func(i int, buf []byte) error {
				if _, err := cs[i].Write(frame); err != nil {
					return err
				}
				return readReply(cs[i], buf, true, 0)
			})
		})
		b.Run(fmt.Sprintf("direct-%dconns", conns), func(b *testing.B) {
			runCalls(b, conns, func(int, []byte) error {
				_, err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Raw()
				return err
			})
		})
	}
}

// runCalls makes b.N calls of call over conns goroutines (call's i is the
// goroutine's), timing each, and reports calls/s, p50 and p99.
func runCalls(b *testing.B, conns int, call func(i int, buf []byte) error) {
	b.ReportAllocs()
	lat := make([][]time.Duration, conns)
	errs := make(chan error, conns)
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for i := range conns {
		n := b.N / conns
		if i < b.N%conns {
			n++
		}
		lat[i] = make([]time.Duration, 0, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 64<<10)
			for range n {
				t0 := time.Now()
				if err := call(i, buf); err != nil {
					errs <- err
					return
				}
				lat[i] = append(lat[i], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "calls/s")
	if len(all) > 0 {
		b.ReportMetric(float64(all[len(all)/2].Microseconds()), "p50-us")
		b.ReportMetric(float64(all[len(all)*99/100].Microseconds()), "p99-us")
	}
}

// dialAll opens n connections to addr, closed when b ends.
func dialAll(b *testing.B, addr string, n int) []net.Conn {
	cs := make([]net.Conn, n)
	for i := range cs {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close() })
		cs[i] = c
	}
	return cs
}
