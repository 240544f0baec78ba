package main_test

// The mg_* calls through a running faed to FerretDB (embedded in the test,
// SQLite backend): every call from Go (documents built with the driver's
// own BSON library) and from Python (Debian's python3-bson), shard ids
// modulo the shards, bad BSON and the server's errors as exceptions,
// "stats mongo", and a stopped FerretDB answered within the timeout until
// the shard's breaker opens.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/fae-sidecar/fae/internal/ferrettest"
	"github.com/fae-sidecar/fae/internal/testproc"
	"github.com/fae-sidecar/fae/proto/thrift/fae"
)

// mongoFaed starts faed with the mongo pool "users" over the given
// FerretDB servers, one shard each.
func mongoFaed(t *testing.T, timeout time.Duration, servers ...*ferrettest.Server) *testproc.Faed {
	t.Helper()
	return mongoFaedAdmin(t, timeout, "", servers...)
}

// mongoFaedAdmin is mongoFaed with the admin API on admin ("": off).
func mongoFaedAdmin(t *testing.T, timeout time.Duration, admin string, servers ...*ferrettest.Server) *testproc.Faed {
	t.Helper()
	var shards []string
	for i, s := range servers {
		shards = append(shards, fmt.Sprintf("%d: %q", i, s.URI))
	}
	cfg := filepath.Join(t.TempDir(), "faed.yaml")
	conf := fmt.Sprintf("pools:\n  users:\n    kind: mongo\n    shards: {%s}\n    database: app\n    timeout: %s\n    max_conns: 32\n",
		strings.Join(shards, ", "), timeout)
	if admin != "" {
		conf += "admin: " + admin + "\n"
	}
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return testproc.StartFaedProc(t, "-config", cfg)
}

func bsonDoc(t *testing.T, v any) []byte {
	t.Helper()
	b, err := bson.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func bsonMap(t *testing.T, b []byte) bson.M {
	t.Helper()
	var m bson.M
	if err := bson.Unmarshal(b, &m); err != nil {
		t.Fatalf("reply %x is not BSON: %v", b, err)
	}
	return m
}

// mongoStats reads faed's "stats mongo".
func mongoStats(t *testing.T, addr string) map[string]uint64 {
	t.Helper()
	st := statsOf(t, addr, "stats mongo")
	out := map[string]uint64{}
	for name := range st {
		out[name] = statUint(t, st, name)
	}
	return out
}

func TestMongoThrift(t *testing.T) {
	s0, s1 := ferrettest.Start(t), ferrettest.Start(t)
	adminAddr := testproc.FreePort(t)
	faed := mongoFaedAdmin(t, 5*time.Second, adminAddr, s0, s1)
	c := testproc.ThriftClient(t, faed.Addr)
	ctx := context.Background()
	cx := &fae.Context{Rid: 1, Reason: "test"}
	d := func(v any) []byte { return bsonDoc(t, v) }
	name := func(b []byte) any { return bsonMap(t, b)["name"] }
	isMiss := func(err error) bool { var e *fae.TMongoNotFound; return errors.As(err, &e) }
	isServant := func(err error) bool { var e *fae.TServantError; return errors.As(err, &e) }

	t.Run("go client", func(t *testing.T) {
		const tb = "people"
		ann := bson.NewObjectID()
		if ok, err := c.MgInsert(ctx, cx, "users", tb, 0, d(bson.D{{Key: "_id", Value: ann}, {Key: "name", Value: "ann"}, {Key: "age", Value: 31}})); !ok || err != nil {
			t.Fatalf("mg_insert = %v, %v", ok, err)
		}
		if ok, err := c.MgInserts(ctx, cx, "users", tb, 0, [][]byte{d(bson.M{"name": "bob", "age": 25}), d(bson.M{"name": "cy", "age": 40})}); !ok || err != nil {
			t.Fatalf("mg_inserts = %v, %v", ok, err)
		}
		got, err := c.MgFindOne(ctx, cx, "users", tb, 0, d(bson.M{"name": "bob"}), d(bson.M{"age": 1, "_id": 0}))
		if err != nil || !reflect.DeepEqual(bsonMap(t, got), bson.M{"age": int32(25)}) {
			t.Fatalf("mg_find_one = %x, %v", got, err)
		}
		if _, err := c.MgFindOne(ctx, cx, "users", tb, 0, d(bson.M{"name": "nobody"}), nil); !isMiss(err) {
			t.Fatalf("mg_find_one of nobody: %v, want TMongoNotFound", err)
		}
		if got, err := c.MgFindID(ctx, cx, "users", tb, 0, d(bson.M{"_id": ann})); err != nil || name(got) != "ann" {
			t.Fatalf("mg_find_id: %v", err)
		}
		if _, err := c.MgFindID(ctx, cx, "users", tb, 0, d(bson.M{"_id": bson.NewObjectID()})); !isMiss(err) {
			t.Fatalf("mg_find_id of a new id: %v, want TMongoNotFound", err)
		}
		all, err := c.MgFindAll(ctx, cx, "users", tb, 0, nil, nil, 2, 0, []string{"-age"})
		if err != nil || len(all) != 2 || name(all[0]) != "cy" || name(all[1]) != "ann" {
			t.Fatalf("mg_find_all: %d docs, %v", len(all), err)
		}
		if n, err := c.MgCount(ctx, cx, "users", tb, 0, d(bson.M{"age": bson.M{"$lt": 35}})); n != 2 || err != nil {
			t.Fatalf("mg_count = %d, %v", n, err)
		}
		if ok, err := c.MgUpdate(ctx, cx, "users", tb, 0, d(bson.M{"name": "bob"}), d(bson.M{"$set": bson.M{"age": 26}})); !ok || err != nil {
			t.Fatalf("mg_update = %v, %v", ok, err)
		}
		if ok, err := c.MgUpsert(ctx, cx, "users", tb, 0, d(bson.M{"name": "dee"}), d(bson.M{"$set": bson.M{"age": 50}})); !ok || err != nil {
			t.Fatalf("mg_upsert = %v, %v", ok, err)
		}
		got, err = c.MgFindAndModify(ctx, cx, "users", tb, 0, d(bson.M{"name": "bob"}), d(bson.M{"$inc": bson.M{"age": 1}}), false, false, true)
		if err != nil || bsonMap(t, got)["age"] != int32(27) {
			t.Fatalf("mg_find_and_modify: %v", err)
		}
		if ok, err := c.MgDelete(ctx, cx, "users", tb, 0, d(bson.M{"name": "cy"})); !ok || err != nil {
			t.Fatalf("mg_delete = %v, %v", ok, err)
		}
		if n, err := c.MgCount(ctx, cx, "users", tb, 0, nil); n != 3 || err != nil {
			t.Fatalf("mg_count of all = %d, %v", n, err)
		}

		// Shard ids 0..3 on two shards: 0 and 2 on the first.
		for id := int32(0); id < 4; id++ {
			if _, err := c.MgInsert(ctx, cx, "users", "sharded", id, d(bson.M{"id": id})); err != nil {
				t.Fatal(err)
			}
		}
		for sh := int32(0); sh < 2; sh++ {
			docs, err := c.MgFindAll(ctx, cx, "users", "sharded", sh+2, nil, nil, 0, 0, []string{"id"})
			if err != nil || len(docs) != 2 || bsonMap(t, docs[0])["id"] != sh || bsonMap(t, docs[1])["id"] != sh+2 {
				t.Fatalf("shard %d: %d docs, %v", sh, len(docs), err)
			}
		}

		var me *fae.TMongoError
		if _, err := c.MgInsert(ctx, cx, "users", tb, 0, d(bson.M{"_id": ann})); !errors.As(err, &me) || me.Code != 11000 {
			t.Fatalf("duplicate _id: %v, want TMongoError 11000", err)
		}
		if _, err := c.MgTransaction(ctx, cx, "users", 0, []*fae.TMongoOp{{Kind: fae.TMongoOpKind_INSERT, Table: tb, Doc: d(bson.M{"name": "tx"})}}); !errors.As(err, &me) || me.Code == 0 {
			t.Fatalf("transaction on FerretDB: %v, want TMongoError with the server's code", err)
		}
		t.Logf("mg_transaction on FerretDB: TMongoError %d %q", me.Code, me.Message)
		for what, err := range map[string]error{
			"not BSON":     second(c.MgFindOne(ctx, cx, "users", tb, 0, []byte(`{"name":"ann"}`), nil)),
			"cut BSON":     second(c.MgInsert(ctx, cx, "users", tb, 0, d(bson.M{"a": 1})[:7])),
			"bad fields":   second(c.MgFindAll(ctx, cx, "users", tb, 0, nil, []byte{1, 2, 3}, 0, 0, nil)),
			"unknown pool": second(c.MgCount(ctx, cx, "nosuch", tb, 0, nil)),
			"bad op":       second(c.MgTransaction(ctx, cx, "users", 0, []*fae.TMongoOp{{Kind: fae.TMongoOpKind_DELETE, Table: tb, Query: []byte("x")}})),
		} {
			if !isServant(err) {
				t.Errorf("%s: %v, want TServantError", what, err)
			}
		}
		if n, err := c.MgCount(ctx, cx, "users", tb, 0, nil); n != 3 || err != nil {
			t.Fatalf("mg_count after the failures = %d, %v", n, err)
		}
	})

	t.Run("python client", func(t *testing.T) {
		py := "/usr/bin/python3"
		if out, err := exec.Command(py, "-c", "import bson, thrift").CombinedOutput(); err != nil {
			t.Fatalf("%s cannot import bson and thrift (%v): install python3-bson and python3-thrift with make deps\n%s", py, err, out)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, py, "../../client/python/test_mongo.py", faed.Addr, "--shards", "2").CombinedOutput()
		if err != nil || strings.Contains(string(out), "FAIL") {
			t.Fatalf("test_mongo.py: %v\n%s", err, out)
		}
		if n := strings.Count(string(out), "ok "); n < 38 {
			t.Fatalf("test_mongo.py made %d calls:\n%s", n, out)
		}
		t.Logf("test_mongo.py: %d calls ok", strings.Count(string(out), "ok "))
	})

	st := mongoStats(t, faed.Addr)
	if st["mongo:users:0:calls"] == 0 || st["mongo:users:1:calls"] == 0 || st["mongo:users:0:errors"] == 0 ||
		st["mongo:users:0:breaker_open"] != 0 || st["mongo:users:0:latency_p99_us"] == 0 {
		t.Fatalf("stats mongo: %v", st)
	}
	// The admin API's /stats shows the same shards.
	var snap struct {
		Mongo []struct {
			Pool  string `json:"pool"`
			Shard int    `json:"shard"`
			Calls uint64 `json:"calls"`
			P99   uint64 `json:"p99_us"`
		} `json:"mongo"`
	}
	resp, err := http.Get("http://" + adminAddr + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	err = json.NewDecoder(resp.Body).Decode(&snap)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Mongo) != 2 || snap.Mongo[0].Calls != st["mongo:users:0:calls"] || snap.Mongo[1].Shard != 1 || snap.Mongo[0].P99 == 0 {
		t.Errorf("/stats mongo = %+v, want the 2 shards of stats mongo (%v)", snap.Mongo, st)
	}
}

func second[T any](_ T, err error) error { return err }

// TestMongoStopped stops FerretDB under faed: calls are answered with
// TServantError within the pool's timeout, then the shard's breaker opens
// and refuses calls at once; "stats mongo" shows it.
func TestMongoStopped(t *testing.T) {
	srv := ferrettest.Start(t)
	faed := mongoFaed(t, 300*time.Millisecond, srv)
	c := testproc.ThriftClient(t, faed.Addr)
	ctx := context.Background()
	cx := &fae.Context{}
	if _, err := c.MgInsert(ctx, cx, "users", "t", 0, bsonDoc(t, bson.M{"a": 1})); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	start := time.Now()
	_, err := c.MgFindOne(ctx, cx, "users", "t", 0, nil, nil)
	var se *fae.TServantError
	if !errors.As(err, &se) {
		t.Fatalf("mg_find_one on a stopped FerretDB: %v, want TServantError", err)
	}
	t.Logf("answered after %v (timeout 300ms): %s", time.Since(start), se.Message)

	// hystrix's defaults: 20 calls in 10s, half of them failed. Calls from
	// many connections at once, until one is refused by the breaker.
	var wg sync.WaitGroup
	opened := make(chan string, 1)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := testproc.ThriftClient(t, faed.Addr)
			deadline := time.Now().Add(30 * time.Second)
			for time.Now().Before(deadline) {
				_, err := cl.MgFindOne(ctx, cx, "users", "t", 0, nil, nil)
				var se *fae.TServantError
				if !errors.As(err, &se) {
					t.Errorf("mg_find_one: %v, want TServantError", err)
					return
				}
				if strings.Contains(se.Message, "circuit breaker open") {
					select {
					case opened <- se.Message:
					default:
					}
					return
				}
			}
		}()
	}
	wg.Wait()
	select {
	case msg := <-opened:
		t.Logf("then: %s", msg)
	default:
		t.Fatal("the breaker did not open")
	}
	if st := mongoStats(t, faed.Addr); st["mongo:users:0:breaker_open"] != 1 || st["mongo:users:0:rejected"] == 0 || st["mongo:users:0:errors"] < 10 {
		t.Fatalf("stats mongo: %v", st)
	}
}
