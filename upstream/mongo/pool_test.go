package mongo

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	driver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/fae-sidecar/fae/internal/ferrettest"
	"github.com/fae-sidecar/fae/internal/testproc"
)

// TestCalls runs every call against FerretDB, in order, each step seeing
// what the earlier ones wrote.
func TestCalls(t *testing.T) {
	p := newPool(t, Config{}, ferrettest.Start(t).URI)
	ctx := context.Background()
	const tb = "users"
	oid := bson.NewObjectID()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	name := func(raw []byte) any { return decode(t, raw)["name"] }

	must(p.Insert(ctx, 0, tb, b(t, bson.D{{Key: "_id", Value: oid}, {Key: "name", Value: "ann"}, {Key: "age", Value: 31}})))
	must(p.Inserts(ctx, 0, tb, [][]byte{
		b(t, bson.D{{Key: "name", Value: "bob"}, {Key: "age", Value: 25}}),
		b(t, bson.D{{Key: "name", Value: "cy"}, {Key: "age", Value: 40}}),
	}))

	got, err := p.FindOne(ctx, 0, tb, b(t, bson.M{"name": "bob"}), b(t, bson.M{"age": 1, "_id": 0}))
	must(err)
	if m := decode(t, got); !reflect.DeepEqual(m, bson.M{"age": int32(25)}) {
		t.Fatalf("find_one with fields = %v", m)
	}
	if _, err := p.FindOne(ctx, 0, tb, b(t, bson.M{"name": "nobody"}), nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("find_one of nobody: %v", err)
	}
	got, err = p.FindID(ctx, 0, tb, b(t, bson.M{"_id": oid}))
	must(err)
	if name(got) != "ann" {
		t.Fatalf("find_id = %v", decode(t, got))
	}
	if _, err := p.FindID(ctx, 0, tb, b(t, bson.M{"id": bson.NewObjectID()})); !errors.Is(err, ErrNotFound) {
		t.Fatalf("find_id of a new id: %v", err)
	}

	all, err := p.FindAll(ctx, 0, tb, nil, nil, 0, 0, []string{"-age"})
	must(err)
	var names []any
	for _, d := range all {
		names = append(names, name(d))
	}
	if !reflect.DeepEqual(names, []any{"cy", "ann", "bob"}) {
		t.Fatalf("find_all by -age = %v", names)
	}
	all, err = p.FindAll(ctx, 0, tb, b(t, bson.M{"age": bson.M{"$gt": 20}}), b(t, bson.M{"name": 1}), 1, 1, []string{"+age"})
	must(err)
	if len(all) != 1 || name(all[0]) != "ann" {
		t.Fatalf("find_all limit 1 skip 1 by age: %d docs", len(all))
	}
	if all, err = p.FindAll(ctx, 0, tb, b(t, bson.M{"age": 99}), nil, 0, 0, nil); err != nil || len(all) != 0 {
		t.Fatalf("find_all of nothing: %d docs, %v", len(all), err)
	}

	n, err := p.Count(ctx, 0, tb, b(t, bson.M{"age": bson.M{"$gte": 31}}))
	if err != nil || n != 2 {
		t.Fatalf("count = %d, %v", n, err)
	}

	ok, err := p.Update(ctx, 0, tb, b(t, bson.M{"name": "bob"}), b(t, bson.M{"$inc": bson.M{"age": 1}}))
	if err != nil || !ok {
		t.Fatalf("update = %v, %v", ok, err)
	}
	ok, err = p.Update(ctx, 0, tb, b(t, bson.M{"name": "nobody"}), b(t, bson.M{"$inc": bson.M{"age": 1}}))
	if err != nil || ok {
		t.Fatalf("update of nobody = %v, %v", ok, err)
	}
	// A replacement keeps the _id and drops the other fields.
	ok, err = p.Update(ctx, 0, tb, b(t, bson.M{"name": "cy"}), b(t, bson.M{"name": "cy", "city": "Oslo"}))
	if err != nil || !ok {
		t.Fatalf("update by replacement = %v, %v", ok, err)
	}
	got, err = p.FindOne(ctx, 0, tb, b(t, bson.M{"name": "cy"}), b(t, bson.M{"_id": 0}))
	must(err)
	if m := decode(t, got); !reflect.DeepEqual(m, bson.M{"name": "cy", "city": "Oslo"}) {
		t.Fatalf("replaced = %v", m)
	}
	ok, err = p.Upsert(ctx, 0, tb, b(t, bson.M{"name": "dee"}), b(t, bson.M{"$set": bson.M{"age": 50}}))
	if err != nil || !ok {
		t.Fatalf("upsert = %v, %v", ok, err)
	}
	got, err = p.FindOne(ctx, 0, tb, b(t, bson.M{"name": "dee"}), nil)
	if err != nil || decode(t, got)["age"] != int32(50) {
		t.Fatalf("upserted: %v", err)
	}

	got, err = p.FindAndModify(ctx, 0, tb, b(t, bson.M{"name": "bob"}), b(t, bson.M{"$inc": bson.M{"age": 10}}), false, false, true)
	if err != nil || decode(t, got)["age"] != int32(36) {
		t.Fatalf("find_and_modify returnNew: %v %v", decode(t, got), err)
	}
	got, err = p.FindAndModify(ctx, 0, tb, b(t, bson.M{"name": "bob"}), b(t, bson.M{"$inc": bson.M{"age": 1}}), false, false, false)
	if err != nil || decode(t, got)["age"] != int32(36) {
		t.Fatalf("find_and_modify returns the old document: %v", err)
	}
	if _, err := p.FindAndModify(ctx, 0, tb, b(t, bson.M{"name": "nobody"}), b(t, bson.M{"$set": bson.M{"a": 1}}), false, false, true); !errors.Is(err, ErrNotFound) {
		t.Fatalf("find_and_modify of nobody: %v", err)
	}
	got, err = p.FindAndModify(ctx, 0, tb, b(t, bson.M{"name": "eve"}), b(t, bson.M{"$set": bson.M{"age": 7}}), true, false, true)
	if err != nil || name(got) != "eve" {
		t.Fatalf("find_and_modify upsert returnNew: %v", err)
	}
	got, err = p.FindAndModify(ctx, 0, tb, b(t, bson.M{"name": "eve"}), nil, false, true, false)
	if err != nil || name(got) != "eve" {
		t.Fatalf("find_and_modify remove: %v", err)
	}

	ok, err = p.Delete(ctx, 0, tb, b(t, bson.M{"name": "ann"}))
	if err != nil || !ok {
		t.Fatalf("delete = %v, %v", ok, err)
	}
	ok, err = p.Delete(ctx, 0, tb, b(t, bson.M{"name": "ann"}))
	if err != nil || ok {
		t.Fatalf("delete again = %v, %v", ok, err)
	}
	if n, err := p.Count(ctx, 0, tb, nil); err != nil || n != 3 {
		t.Fatalf("count of all = %d, %v (bob, cy, dee)", n, err)
	}

	st := p.Stats()[0]
	if st.Calls == 0 || st.Errors != 0 || st.P99US == 0 || st.MaxUS < st.P50US {
		t.Fatalf("stats %+v", st)
	}
}

// TestServerErrorCode checks that the server's error code reaches the
// caller: a duplicate key is 11000.
func TestServerErrorCode(t *testing.T) {
	p := newPool(t, Config{}, ferrettest.Start(t).URI)
	ctx := context.Background()
	d := b(t, bson.M{"_id": 1, "v": "x"})
	if err := p.Insert(ctx, 0, "t", d); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"insert":  p.Insert(ctx, 0, "t", d),
		"inserts": p.Inserts(ctx, 0, "t", [][]byte{b(t, bson.M{"_id": 2}), d}),
	} {
		var se *ServerError
		if !errors.As(err, &se) || se.Code != 11000 || se.Message == "" {
			t.Fatalf("%s of a duplicate _id: %v, want a ServerError with code 11000", name, err)
		}
	}
	// A bad operator is the server's error too, and counts for no breaker.
	_, err := p.Update(ctx, 0, "t", b(t, bson.M{"_id": 1}), b(t, bson.M{"$nosuch": bson.M{"v": 1}}))
	var se *ServerError
	if !errors.As(err, &se) || se.Code == 0 {
		t.Fatalf("update with $nosuch: %v", err)
	}
	t.Logf("$nosuch: %v", se)
	if st := p.Stats()[0]; st.Errors != 3 || st.Timeouts != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestBadBSON checks that every call refuses a document that is not BSON
// before sending anything.
func TestBadBSON(t *testing.T) {
	p := newPool(t, Config{}, ferrettest.Start(t).URI)
	ctx := context.Background()
	good := b(t, bson.M{"a": 1})
	bads := map[string][]byte{
		"text":           []byte("{\"a\": 1}"),
		"short":          good[:len(good)-1],
		"trailing bytes": append(append([]byte{}, good...), 0),
		"bad length":     {0xff, 0, 0, 0, 0},
	}
	for name, bad := range bads {
		t.Run(name, func(t *testing.T) {
			calls := map[string]error{}
			calls["find_one query"] = second(p.FindOne(ctx, 0, "t", bad, nil))
			calls["find_one fields"] = second(p.FindOne(ctx, 0, "t", good, bad))
			calls["find_all"] = second(p.FindAll(ctx, 0, "t", bad, nil, 0, 0, nil))
			calls["find_id"] = second(p.FindID(ctx, 0, "t", bad))
			calls["count"] = second(p.Count(ctx, 0, "t", bad))
			calls["update"] = second(p.Update(ctx, 0, "t", good, bad))
			calls["upsert"] = second(p.Upsert(ctx, 0, "t", bad, good))
			calls["insert"] = p.Insert(ctx, 0, "t", bad)
			calls["inserts"] = p.Inserts(ctx, 0, "t", [][]byte{good, bad})
			calls["delete"] = second(p.Delete(ctx, 0, "t", bad))
			calls["find_and_modify"] = second(p.FindAndModify(ctx, 0, "t", good, bad, false, false, false))
			calls["transaction"] = second(p.Transaction(ctx, 0, []Op{{Kind: OpInsert, Table: "t", Doc: good}, {Kind: OpDelete, Table: "t", Query: bad}}))
			for call, err := range calls {
				if !errors.Is(err, ErrBadBSON) {
					t.Errorf("%s: %v, want ErrBadBSON", call, err)
				}
			}
		})
	}
	if st := p.Stats()[0]; st.Calls != 0 {
		t.Fatalf("bad documents reached the server: %+v", st)
	}
	if n, err := p.Count(ctx, 0, "t", nil); err != nil || n != 0 {
		t.Fatalf("count = %d, %v: something was written", n, err)
	}
}

func second[T any](_ T, err error) error { return err }

// TestBadArguments covers what is refused before anything is sent.
func TestBadArguments(t *testing.T) {
	p := newPool(t, Config{}, ferrettest.Start(t).URI)
	ctx := context.Background()
	for name, err := range map[string]error{
		"negative shard":   second(p.FindOne(ctx, -1, "t", nil, nil)),
		"negative limit":   second(p.FindAll(ctx, 0, "t", nil, nil, -1, 0, nil)),
		"negative skip":    second(p.FindAll(ctx, 0, "t", nil, nil, 0, -1, nil)),
		"empty sort field": second(p.FindAll(ctx, 0, "t", nil, nil, 0, 0, []string{"a", "-"})),
		"empty id":         second(p.FindID(ctx, 0, "t", nil)),
		"no documents":     p.Inserts(ctx, 0, "t", nil),
		"unknown op":       second(p.Transaction(ctx, 0, []Op{{Kind: 9, Table: "t"}})),
	} {
		if !errors.Is(err, ErrBadArgument) {
			t.Errorf("%s: %v, want ErrBadArgument", name, err)
		}
	}
}

// TestShards checks that shard ids pick shards modulo their number: with
// two servers, ids 0 and 2 write to the first, 1 and 3 to the second.
func TestShards(t *testing.T) {
	s0, s1 := ferrettest.Start(t), ferrettest.Start(t)
	p := newPool(t, Config{Database: "sharded"}, s0.URI, s1.URI)
	ctx := context.Background()
	for id := int32(0); id < 4; id++ {
		if err := p.Insert(ctx, id, "t", b(t, bson.M{"id": id})); err != nil {
			t.Fatal(err)
		}
	}
	for i, srv := range []*ferrettest.Server{s0, s1} {
		direct, err := driver.Connect(options.Client().ApplyURI(srv.URI))
		if err != nil {
			t.Fatal(err)
		}
		defer direct.Disconnect(ctx)
		cur, err := direct.Database("sharded").Collection("t").Find(ctx, bson.M{}, options.Find().SetSort(bson.M{"id": 1}))
		if err != nil {
			t.Fatal(err)
		}
		var docs []struct{ ID int32 }
		if err := cur.All(ctx, &docs); err != nil {
			t.Fatal(err)
		}
		want := []int32{int32(i), int32(i + 2)}
		if len(docs) != 2 || docs[0].ID != want[0] || docs[1].ID != want[1] {
			t.Fatalf("shard %d holds %+v, want ids %v", i, docs, want)
		}
	}
	if st := p.Stats(); len(st) != 2 || st[0].Calls != 2 || st[1].Calls != 2 {
		t.Fatalf("stats %+v", st)
	}
}

// TestFindAllTooLarge checks the bound on what FindAll holds.
func TestFindAllTooLarge(t *testing.T) {
	p := newPool(t, Config{MaxResultBytes: 1000}, ferrettest.Start(t).URI)
	ctx := context.Background()
	big := make([]byte, 400)
	for i := range 3 {
		if err := p.Insert(ctx, 0, "t", b(t, bson.M{"i": i, "pad": big})); err != nil {
			t.Fatal(err)
		}
	}
	if all, err := p.FindAll(ctx, 0, "t", nil, nil, 2, 0, nil); err != nil || len(all) != 2 {
		t.Fatalf("two documents: %d, %v", len(all), err)
	}
	if _, err := p.FindAll(ctx, 0, "t", nil, nil, 0, 0, nil); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("three documents: %v, want ErrTooLarge", err)
	}
}

// TestLimit checks that a shard with MaxConns calls in flight refuses the
// next at once: the first call hangs on a server that never answers.
func TestLimit(t *testing.T) {
	p := newPool(t, Config{MaxConns: 1, Timeout: time.Minute}, blackHole(t))
	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() { first <- second(p.FindOne(ctx, 0, "t", nil, nil)) }()
	testproc.WaitFor(t, "the first call in flight", func() bool { return p.Stats()[0].InFlight == 1 })
	if _, err := p.FindOne(context.Background(), 0, "t", nil, nil); !errors.Is(err, ErrLimit) {
		t.Fatalf("second call: %v, want ErrLimit", err)
	}
	cancel()
	if err := <-first; err == nil {
		t.Fatal("the first call succeeded on a server that never answers")
	}
	if st := p.Stats()[0]; st.Refused != 1 || st.InFlight != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestTimeout checks that a call to a server that does not answer fails
// with ErrTimeout once Timeout has passed.
func TestTimeout(t *testing.T) {
	p := newPool(t, Config{Timeout: 200 * time.Millisecond}, blackHole(t))
	start := time.Now()
	_, err := p.FindOne(context.Background(), 0, "t", nil, nil)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("call to a server that never answers: %v, want ErrTimeout", err)
	}
	t.Logf("answered after %v (timeout 200ms): %v", time.Since(start), err)
	if st := p.Stats()[0]; st.Timeouts != 1 || st.Errors != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestStoppedServer checks that calls to a FerretDB that stopped fail
// within the timeout, and that the shard's breaker opens and then refuses
// calls at once.
func TestStoppedServer(t *testing.T) {
	srv := ferrettest.Start(t)
	p := newPool(t, Config{Timeout: 300 * time.Millisecond,
		Breaker: BreakerConfig{MinRequests: 4, ErrorPercent: 50, SleepWindow: time.Hour}}, srv.URI)
	ctx := context.Background()
	if err := p.Insert(ctx, 0, "t", b(t, bson.M{"a": 1})); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	start := time.Now()
	_, err := p.FindOne(ctx, 0, "t", nil, nil)
	if err == nil || errors.Is(err, ErrNotFound) {
		t.Fatalf("find_one on a stopped server: %v", err)
	}
	t.Logf("stopped server answered after %v (timeout 300ms): %v", time.Since(start), err)
	// hystrix-go counts outcomes on its own goroutine: call until it opens.
	testproc.WaitFor(t, "the breaker to open", func() bool {
		_, err := p.FindOne(ctx, 0, "t", nil, nil)
		return errors.Is(err, ErrBreakerOpen)
	})
	// hystrix opens on its own count, which its goroutine may take ahead of
	// ours: how many calls were sent before it opened is not fixed.
	if st := p.Stats()[0]; !st.Open || st.Rejected == 0 || st.Errors < 2 || st.Calls < st.Errors {
		t.Fatalf("stats %+v", st)
	}
}

// TestTransactionUnsupported checks that FerretDB's refusal of a
// transaction reaches the caller as a ServerError with its code, and that
// nothing of the transaction was written.
func TestTransactionUnsupported(t *testing.T) {
	p := newPool(t, Config{}, ferrettest.Start(t).URI)
	ctx := context.Background()
	_, err := p.Transaction(ctx, 0, []Op{{Kind: OpInsert, Table: "t", Doc: b(t, bson.M{"a": 1})}})
	var se *ServerError
	if !errors.As(err, &se) || se.Code == 0 {
		t.Fatalf("transaction on FerretDB: %v (%T), want a ServerError", err, err)
	}
	t.Logf("FerretDB answers a transaction with %v", se)
	if n, err := p.Count(ctx, 0, "t", nil); err != nil || n != 0 {
		t.Fatalf("count = %d, %v", n, err)
	}
}

// TestTransactionReplicaSet runs a real transaction on the replica set at
// FAE_MONGO_URI (skipped without it): all writes or none.
func TestTransactionReplicaSet(t *testing.T) {
	uri := ferrettest.ReplicaSetURI(t)
	db := "fae_test_" + bson.NewObjectID().Hex()
	p := newPool(t, Config{Database: db}, uri)
	ctx := context.Background()
	defer p.shards[0].db.Drop(ctx)
	if err := p.Insert(ctx, 0, "acct", b(t, bson.M{"_id": "a", "n": 10})); err != nil {
		t.Fatal(err)
	}
	counts, err := p.Transaction(ctx, 0, []Op{
		{Kind: OpUpdate, Table: "acct", Query: b(t, bson.M{"_id": "a"}), Doc: b(t, bson.M{"$inc": bson.M{"n": -3}})},
		{Kind: OpUpsert, Table: "acct", Query: b(t, bson.M{"_id": "b"}), Doc: b(t, bson.M{"$inc": bson.M{"n": 3}})},
		{Kind: OpInsert, Table: "log", Doc: b(t, bson.M{"from": "a", "to": "b"})},
		{Kind: OpDelete, Table: "log", Query: b(t, bson.M{"none": 1})},
	})
	if err != nil || !reflect.DeepEqual(counts, []int32{1, 1, 1, 0}) {
		t.Fatalf("transaction = %v, %v", counts, err)
	}
	// A duplicate key aborts the whole transaction.
	_, err = p.Transaction(ctx, 0, []Op{
		{Kind: OpUpdate, Table: "acct", Query: b(t, bson.M{"_id": "a"}), Doc: b(t, bson.M{"$inc": bson.M{"n": -100}})},
		{Kind: OpInsert, Table: "acct", Doc: b(t, bson.M{"_id": "b"})},
	})
	var se *ServerError
	if !errors.As(err, &se) || se.Code != 11000 {
		t.Fatalf("aborted transaction: %v", err)
	}
	got, err := p.FindID(ctx, 0, "acct", b(t, bson.M{"_id": "a"}))
	if err != nil || decode(t, got)["n"] != int32(7) {
		t.Fatalf("after the abort: %v %v", decode(t, got), err)
	}
}
