package servant

import (
	"context"
	"errors"
	"fmt"

	"github.com/fae-sidecar/fae/proto/thrift/fae"
	"github.com/fae-sidecar/fae/upstream/mongo"
)

// The mg_* calls go to the mongo pool they name (upstream/mongo), on the
// calling goroutine, which is a worker, never an event loop. Their errors
// become the IDL's exceptions: no matching document TMongoNotFound, an
// error the server answered TMongoError with its code, anything else (an
// unknown pool, a document that is not BSON, a timeout, a breaker open, a
// pool at max_conns) TServantError.

// mgPool returns the mongo pool named name.
func (f *FunServant) mgPool(name string) (*mongo.Pool, error) {
	if p := f.mongo[name]; p != nil {
		return p, nil
	}
	return nil, servantError("mongo pool %q is not configured (pools with kind: mongo)", name)
}

// mgError turns a mongo pool's error into the IDL's exception.
func mgError(err error) error {
	var se *mongo.ServerError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, mongo.ErrNotFound):
		msg := err.Error()
		return &fae.TMongoNotFound{Message: &msg}
	case errors.As(err, &se):
		return &fae.TMongoError{Code: se.Code, Message: se.Message}
	}
	return &fae.TServantError{Message: fmt.Sprint(err)}
}

func (f *FunServant) MgFindOne(ctx context.Context, _ *fae.Context, pool, table string, shard int32, query, fields []byte) ([]byte, error) {
	p, err := f.mgPool(pool)
	if err != nil {
		return nil, err
	}
	v, err := p.FindOne(ctx, shard, table, query, fields)
	return v, mgError(err)
}

func (f *FunServant) MgFindAll(ctx context.Context, _ *fae.Context, pool, table string, shard int32, query, fields []byte, limit, skip int32, orderBy []string) ([][]byte, error) {
	p, err := f.mgPool(pool)
	if err != nil {
		return nil, err
	}
	v, err := p.FindAll(ctx, shard, table, query, fields, limit, skip, orderBy)
	return v, mgError(err)
}

func (f *FunServant) MgFindID(ctx context.Context, _ *fae.Context, pool, table string, shard int32, id []byte) ([]byte, error) {
	p, err := f.mgPool(pool)
	if err != nil {
		return nil, err
	}
	v, err := p.FindID(ctx, shard, table, id)
	return v, mgError(err)
}

func (f *FunServant) MgCount(ctx context.Context, _ *fae.Context, pool, table string, shard int32, query []byte) (int32, error) {
	p, err := f.mgPool(pool)
	if err != nil {
		return 0, err
	}
	n, err := p.Count(ctx, shard, table, query)
	return n, mgError(err)
}

func (f *FunServant) MgUpdate(ctx context.Context, _ *fae.Context, pool, table string, shard int32, query, change []byte) (bool, error) {
	p, err := f.mgPool(pool)
	if err != nil {
		return false, err
	}
	ok, err := p.Update(ctx, shard, table, query, change)
	return ok, mgError(err)
}

func (f *FunServant) MgUpsert(ctx context.Context, _ *fae.Context, pool, table string, shard int32, query, change []byte) (bool, error) {
	p, err := f.mgPool(pool)
	if err != nil {
		return false, err
	}
	ok, err := p.Upsert(ctx, shard, table, query, change)
	return ok, mgError(err)
}

func (f *FunServant) MgInsert(ctx context.Context, _ *fae.Context, pool, table string, shard int32, doc []byte) (bool, error) {
	p, err := f.mgPool(pool)
	if err != nil {
		return false, err
	}
	if err := p.Insert(ctx, shard, table, doc); err != nil {
		return false, mgError(err)
	}
	return true, nil
}

func (f *FunServant) MgInserts(ctx context.Context, _ *fae.Context, pool, table string, shard int32, docs [][]byte) (bool, error) {
	p, err := f.mgPool(pool)
	if err != nil {
		return false, err
	}
	if err := p.Inserts(ctx, shard, table, docs); err != nil {
		return false, mgError(err)
	}
	return true, nil
}

func (f *FunServant) MgDelete(ctx context.Context, _ *fae.Context, pool, table string, shard int32, query []byte) (bool, error) {
	p, err := f.mgPool(pool)
	if err != nil {
		return false, err
	}
	ok, err := p.Delete(ctx, shard, table, query)
	return ok, mgError(err)
}

func (f *FunServant) MgFindAndModify(ctx context.Context, _ *fae.Context, pool, table string, shard int32, query, change []byte, upsert, remove, returnNew bool) ([]byte, error) {
	p, err := f.mgPool(pool)
	if err != nil {
		return nil, err
	}
	v, err := p.FindAndModify(ctx, shard, table, query, change, upsert, remove, returnNew)
	return v, mgError(err)
}

func (f *FunServant) MgTransaction(ctx context.Context, _ *fae.Context, pool string, shard int32, ops []*fae.TMongoOp) ([]int32, error) {
	p, err := f.mgPool(pool)
	if err != nil {
		return nil, err
	}
	mops := make([]mongo.Op, len(ops))
	for i, o := range ops {
		if o == nil {
			return nil, servantError("mg_transaction: ops[%d] is empty", i)
		}
		mops[i] = mongo.Op{Kind: mongo.OpKind(o.Kind), Table: o.Table, Query: o.Query, Doc: o.Doc}
	}
	n, err := p.Transaction(ctx, shard, mops)
	return n, mgError(err)
}
