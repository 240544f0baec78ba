package thrift

import (
	"context"
	"fmt"
	"strings"

	"github.com/fae-sidecar/fae/proto/thrift/fae"
)

// testHandler's mg_* calls echo their arguments, so that a round trip
// shows each one reached the handler whole, and fail as the pool or the
// table asks: poolBad is a TServantError, poolMongoErr a TMongoError with
// mongoErrCode, tableNone a TMongoNotFound where the method declares one,
// and keyPanic or keyError as a table panics or fails undeclared.
const (
	poolMongoErr = "mgerr"
	tableNone    = "none"
	mongoErrCode = 11000
)

func mgFail(pool, table string) error {
	if err := fail(table); err != nil {
		return err
	}
	switch pool {
	case poolBad:
		return servantError("mongo pool %q: breaker open", pool)
	case poolMongoErr:
		return &fae.TMongoError{Code: mongoErrCode, Message: "E11000 duplicate key error"}
	}
	return nil
}

func mgMiss(table string) error {
	if table == tableNone {
		msg := "no document in " + table
		return &fae.TMongoNotFound{Message: &msg}
	}
	return nil
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func (h *testHandler) MgFindOne(_ context.Context, _ *fae.Context, pool, table string, shard int32, query, fields []byte) ([]byte, error) {
	if err := mgFail(pool, table); err != nil {
		return nil, err
	}
	if err := mgMiss(table); err != nil {
		return nil, err
	}
	return cat([]byte(fmt.Sprintf("%s.%d:", table, shard)), query, fields), nil
}

func (h *testHandler) MgFindAll(_ context.Context, _ *fae.Context, pool, table string, shard int32, query, fields []byte, limit, skip int32, orderBy []string) ([][]byte, error) {
	if err := mgFail(pool, table); err != nil {
		return nil, err
	}
	if table == tableNone {
		return nil, nil
	}
	return [][]byte{query, fields, []byte(fmt.Sprintf("%d %d %s", limit, skip, strings.Join(orderBy, ",")))}, nil
}

func (h *testHandler) MgFindID(_ context.Context, _ *fae.Context, pool, table string, _ int32, id []byte) ([]byte, error) {
	if err := mgFail(pool, table); err != nil {
		return nil, err
	}
	if err := mgMiss(table); err != nil {
		return nil, err
	}
	return id, nil
}

func (h *testHandler) MgCount(_ context.Context, _ *fae.Context, pool, table string, _ int32, query []byte) (int32, error) {
	return int32(len(query)), mgFail(pool, table)
}

func (h *testHandler) MgUpdate(_ context.Context, _ *fae.Context, pool, table string, _ int32, query, change []byte) (bool, error) {
	return len(query) > 0 && len(change) > 0, mgFail(pool, table)
}

func (h *testHandler) MgUpsert(_ context.Context, _ *fae.Context, pool, table string, _ int32, _, change []byte) (bool, error) {
	return len(change) > 0, mgFail(pool, table)
}

func (h *testHandler) MgInsert(_ context.Context, _ *fae.Context, pool, table string, _ int32, doc []byte) (bool, error) {
	return len(doc) > 0, mgFail(pool, table)
}

func (h *testHandler) MgInserts(_ context.Context, _ *fae.Context, pool, table string, _ int32, docs [][]byte) (bool, error) {
	return len(docs) > 0, mgFail(pool, table)
}

func (h *testHandler) MgDelete(_ context.Context, _ *fae.Context, pool, table string, _ int32, query []byte) (bool, error) {
	return len(query) > 0, mgFail(pool, table)
}

func (h *testHandler) MgFindAndModify(_ context.Context, _ *fae.Context, pool, table string, _ int32, query, change []byte, upsert, remove, returnNew bool) ([]byte, error) {
	if err := mgFail(pool, table); err != nil {
		return nil, err
	}
	if err := mgMiss(table); err != nil {
		return nil, err
	}
	return cat(query, change, []byte(fmt.Sprint(upsert, remove, returnNew))), nil
}

// MgTransaction returns each op's kind.
func (h *testHandler) MgTransaction(_ context.Context, _ *fae.Context, pool string, _ int32, ops []*fae.TMongoOp) ([]int32, error) {
	if err := mgFail(pool, ""); err != nil {
		return nil, err
	}
	var kinds []int32
	for _, op := range ops {
		kinds = append(kinds, int32(op.Kind))
	}
	return kinds, nil
}
