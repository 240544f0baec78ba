package thrift

import (
	"context"

	apache "github.com/apache/thrift/lib/go/thrift"
)

// invokeMongo is invoke for the mg_* methods. Their results carry
// TMongoNotFound (reads of one document), TServantError and TMongoError.
func (p *Processor) invokeMongo(ctx context.Context, m Method) (apache.TStruct, *callError) {
	switch m {
	case MethodMgFindOne:
		a, r := &p.args.mgFindOne, &p.res.mgFindOne
		if e := p.readArgs(ctx, m, a, &a.C); e != nil {
			return nil, e
		}
		v, err := p.h.MgFindOne(ctx, a.C, a.Pool, a.Table, a.ShardId, a.Query, a.Fields)
		if err == nil {
			r.Success = nonNil(v)
		}
		return r, declared(m, err, &r.Miss, &r.Err, &r.MgErr)

	case MethodMgFindAll:
		a, r := &p.args.mgFindAll, &p.res.mgFindAll
		if e := p.readArgs(ctx, m, a, &a.C); e != nil {
			return nil, e
		}
		v, err := p.h.MgFindAll(ctx, a.C, a.Pool, a.Table, a.ShardId, a.Query, a.Fields, a.Limit, a.Skip, a.OrderBy)
		if err == nil {
			if v == nil {
				v = [][]byte{} // a nil list would not be written
			}
			r.Success = v
		}
		return r, declared(m, err, &r.Err, &r.MgErr)

	case MethodMgFindID:
		a, r := &p.args.mgFindID, &p.res.mgFindID
		if e := p.readArgs(ctx, m, a, &a.C); e != nil {
			return nil, e
		}
		v, err := p.h.MgFindID(ctx, a.C, a.Pool, a.Table, a.ShardId, a.ID)
		if err == nil {
			r.Success = nonNil(v)
		}
		return r, declared(m, err, &r.Miss, &r.Err, &r.MgErr)

	case MethodMgCount:
		a, r := &p.args.mgCount, &p.res.mgCount
		if e := p.readArgs(ctx, m, a, &a.C); e != nil {
			return nil, e
		}
		v, err := p.h.MgCount(ctx, a.C, a.Pool, a.Table, a.ShardId, a.Query)
		if err == nil {
			r.Success = p.i32(v)
		}
		return r, declared(m, err, &r.Err, &r.MgErr)

	case MethodMgUpdate:
		a, r := &p.args.mgUpdate, &p.res.mgUpdate
		if e := p.readArgs(ctx, m, a, &a.C); e != nil {
			return nil, e
		}
		v, err := p.h.MgUpdate(ctx, a.C, a.Pool, a.Table, a.ShardId, a.Query, a.Change)
		if err == nil {
			r.Success = p.bool(v)
		}
		return r, declared(m, err, &r.Err, &r.MgErr)

	case MethodMgUpsert:
		a, r := &p.args.mgUpsert, &p.res.mgUpsert
		if e := p.readArgs(ctx, m, a, &a.C); e != nil {
			return nil, e
		}
		v, err := p.h.MgUpsert(ctx, a.C, a.Pool, a.Table, a.ShardId, a.Query, a.Change)
		if err == nil {
			r.Success = p.bool(v)
		}
		return r, declared(m, err, &r.Err, &r.MgErr)

	case MethodMgInsert:
		a, r := &p.args.mgInsert, &p.res.mgInsert
		if e := p.readArgs(ctx, m, a, &a.C); e != nil {
			return nil, e
		}
		v, err := p.h.MgInsert(ctx, a.C, a.Pool, a.Table, a.ShardId, a.Doc)
		if err == nil {
			r.Success = p.bool(v)
		}
		return r, declared(m, err, &r.Err, &r.MgErr)

	case MethodMgInserts:
		a, r := &p.args.mgInserts, &p.res.mgInserts
		if e := p.readArgs(ctx, m, a, &a.C); e != nil {
			return nil, e
		}
		v, err := p.h.MgInserts(ctx, a.C, a.Pool, a.Table, a.ShardId, a.Docs)
		if err == nil {
			r.Success = p.bool(v)
		}
		return r, declared(m, err, &r.Err, &r.MgErr)

	case MethodMgDelete:
		a, r := &p.args.mgDelete, &p.res.mgDelete
		if e := p.readArgs(ctx, m, a, &a.C); e != nil {
			return nil, e
		}
		v, err := p.h.MgDelete(ctx, a.C, a.Pool, a.Table, a.ShardId, a.Query)
		if err == nil {
			r.Success = p.bool(v)
		}
		return r, declared(m, err, &r.Err, &r.MgErr)

	case MethodMgFindAndModify:
		a, r := &p.args.mgFindAndModify, &p.res.mgFindAndModify
		if e := p.readArgs(ctx, m, a, &a.C); e != nil {
			return nil, e
		}
		v, err := p.h.MgFindAndModify(ctx, a.C, a.Pool, a.Table, a.ShardId, a.Query, a.Change, a.Upsert, a.Remove, a.ReturnNew)
		if err == nil {
			r.Success = nonNil(v)
		}
		return r, declared(m, err, &r.Miss, &r.Err, &r.MgErr)

	case MethodMgTransaction:
		a, r := &p.args.mgTransaction, &p.res.mgTransaction
		if e := p.readArgs(ctx, m, a, &a.C); e != nil {
			return nil, e
		}
		v, err := p.h.MgTransaction(ctx, a.C, a.Pool, a.ShardId, a.Ops)
		if err == nil {
			if v == nil {
				v = []int32{}
			}
			r.Success = v
		}
		return r, declared(m, err, &r.Err, &r.MgErr)
	}
	return nil, &callError{ExceptionUnknownMethod, "Unknown function " + m.String()}
}
