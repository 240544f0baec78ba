package thrift

import (
	"context"
	"errors"
	"testing"

	apache "github.com/apache/thrift/lib/go/thrift"

	"github.com/fae-sidecar/fae/proto/thrift/fae"
)

func isMongoMiss(err error) bool {
	var e *fae.TMongoNotFound
	return errors.As(err, &e)
}

func isMongoError(err error) bool {
	var e *fae.TMongoError
	return errors.As(err, &e) && e.Code == mongoErrCode && e.Message != ""
}

// TestClientRoundTripMongo calls every mg_* method with every outcome the
// IDL declares through the generated Go client, as TestClientRoundTrip does
// for the others: arguments reach the handler whole (it echoes them) and
// TMongoNotFound, TServantError and TMongoError reach the client as such.
func TestClientRoundTripMongo(t *testing.T) {
	cl := dial(t, startServer(t, newTestHandler()))
	c := testCtx()
	q, f := []byte("\x05\x00\x00\x00\x00"), []byte("fields\x00")
	ops := []*fae.TMongoOp{
		{Kind: fae.TMongoOpKind_INSERT, Table: "t", Doc: q},
		{Kind: fae.TMongoOpKind_DELETE, Table: "t", Query: q},
	}
	steps := []step{
		{"mg_find_one", func(ctx context.Context) (any, error) { return cl.MgFindOne(ctx, c, "p", "t", 3, q, f) }, cat([]byte("t.3:"), q, f), noErr},
		{"mg_find_one empty fields", func(ctx context.Context) (any, error) { return cl.MgFindOne(ctx, c, "p", "t", -1, q, nil) }, cat([]byte("t.-1:"), q), noErr},
		{"mg_find_one missed", func(ctx context.Context) (any, error) { return cl.MgFindOne(ctx, c, "p", tableNone, 0, q, f) }, nil, isMongoMiss},
		{"mg_find_all", func(ctx context.Context) (any, error) {
			return cl.MgFindAll(ctx, c, "p", "t", 0, q, f, 10, 2, []string{"-a", "b"})
		}, [][]byte{q, f, []byte("10 2 -a,b")}, noErr},
		{"mg_find_all none", func(ctx context.Context) (any, error) {
			return cl.MgFindAll(ctx, c, "p", tableNone, 0, q, nil, 0, 0, nil)
		}, [][]byte{}, noErr},
		{"mg_find_id", func(ctx context.Context) (any, error) { return cl.MgFindID(ctx, c, "p", "t", 0, q) }, q, noErr},
		{"mg_find_id missed", func(ctx context.Context) (any, error) { return cl.MgFindID(ctx, c, "p", tableNone, 0, q) }, nil, isMongoMiss},
		{"mg_count", func(ctx context.Context) (any, error) { return cl.MgCount(ctx, c, "p", "t", 0, q) }, int32(5), noErr},
		{"mg_update", func(ctx context.Context) (any, error) { return cl.MgUpdate(ctx, c, "p", "t", 0, q, f) }, true, noErr},
		{"mg_update false", func(ctx context.Context) (any, error) { return cl.MgUpdate(ctx, c, "p", "t", 0, nil, f) }, false, noErr},
		{"mg_upsert", func(ctx context.Context) (any, error) { return cl.MgUpsert(ctx, c, "p", "t", 0, q, f) }, true, noErr},
		{"mg_insert", func(ctx context.Context) (any, error) { return cl.MgInsert(ctx, c, "p", "t", 0, q) }, true, noErr},
		{"mg_inserts", func(ctx context.Context) (any, error) { return cl.MgInserts(ctx, c, "p", "t", 0, [][]byte{q, f}) }, true, noErr},
		{"mg_delete", func(ctx context.Context) (any, error) { return cl.MgDelete(ctx, c, "p", "t", 0, q) }, true, noErr},
		{"mg_find_and_modify", func(ctx context.Context) (any, error) {
			return cl.MgFindAndModify(ctx, c, "p", "t", 0, q, f, true, false, true)
		}, cat(q, f, []byte("true false true")), noErr},
		{"mg_find_and_modify missed", func(ctx context.Context) (any, error) {
			return cl.MgFindAndModify(ctx, c, "p", tableNone, 0, q, f, false, false, false)
		}, nil, isMongoMiss},
		{"mg_transaction", func(ctx context.Context) (any, error) { return cl.MgTransaction(ctx, c, "p", 0, ops) }, []int32{1, 4}, noErr},
		{"mg_transaction no ops", func(ctx context.Context) (any, error) { return cl.MgTransaction(ctx, c, "p", 0, nil) }, []int32{}, noErr},
		{"mg_find_one panics", func(ctx context.Context) (any, error) { return cl.MgFindOne(ctx, c, "p", keyPanic, 0, q, f) }, nil, isApp(apache.INTERNAL_ERROR)},
		{"mg_count fails undeclared", func(ctx context.Context) (any, error) { return cl.MgCount(ctx, c, "p", keyError, 0, q) }, nil, isApp(apache.INTERNAL_ERROR)},
	}
	// Every method fails both declared ways.
	failing := map[string]func(ctx context.Context, pool string) (any, error){
		"mg_find_one": func(ctx context.Context, p string) (any, error) { return cl.MgFindOne(ctx, c, p, "t", 0, q, f) },
		"mg_find_all": func(ctx context.Context, p string) (any, error) {
			return cl.MgFindAll(ctx, c, p, "t", 0, q, f, 0, 0, nil)
		},
		"mg_find_id": func(ctx context.Context, p string) (any, error) { return cl.MgFindID(ctx, c, p, "t", 0, q) },
		"mg_count":   func(ctx context.Context, p string) (any, error) { return cl.MgCount(ctx, c, p, "t", 0, q) },
		"mg_update":  func(ctx context.Context, p string) (any, error) { return cl.MgUpdate(ctx, c, p, "t", 0, q, f) },
		"mg_upsert":  func(ctx context.Context, p string) (any, error) { return cl.MgUpsert(ctx, c, p, "t", 0, q, f) },
		"mg_insert":  func(ctx context.Context, p string) (any, error) { return cl.MgInsert(ctx, c, p, "t", 0, q) },
		"mg_inserts": func(ctx context.Context, p string) (any, error) { return cl.MgInserts(ctx, c, p, "t", 0, [][]byte{q}) },
		"mg_delete":  func(ctx context.Context, p string) (any, error) { return cl.MgDelete(ctx, c, p, "t", 0, q) },
		"mg_find_and_modify": func(ctx context.Context, p string) (any, error) {
			return cl.MgFindAndModify(ctx, c, p, "t", 0, q, f, false, true, false)
		},
		"mg_transaction": func(ctx context.Context, p string) (any, error) { return cl.MgTransaction(ctx, c, p, 0, ops) },
	}
	for m := MethodMgFindOne; m <= MethodMgTransaction; m++ {
		call := failing[m.String()]
		if call == nil {
			t.Fatalf("no failing call for %s", m)
		}
		steps = append(steps,
			step{m.String() + " servant error", func(ctx context.Context) (any, error) { return call(ctx, poolBad) }, nil, isServantError},
			step{m.String() + " mongo error", func(ctx context.Context) (any, error) { return call(ctx, poolMongoErr) }, nil, isMongoError})
	}
	steps = append(steps, step{"ping after the failures", func(ctx context.Context) (any, error) { return cl.Ping(ctx, c) }, testVersion, noErr})
	runSteps(t, steps)
}
