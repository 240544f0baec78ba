package mongo

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// OpKind is what one write of a transaction does.
type OpKind int

// The kinds of Op, numbered as fae.thrift's TMongoOpKind.
const (
	OpInsert OpKind = 1 // insert Doc
	OpUpdate OpKind = 2 // update the first document matching Query with Doc
	OpUpsert OpKind = 3 // the same, inserting when none matches
	OpDelete OpKind = 4 // delete the first document matching Query
)

// Op is one write of a transaction, on the collection Table.
type Op struct {
	Kind  OpKind
	Table string
	Query []byte // OpUpdate, OpUpsert, OpDelete
	Doc   []byte // OpInsert: the document; OpUpdate, OpUpsert: the change
}

// op is an Op whose documents were checked.
type op struct {
	kind     OpKind
	table    string
	query, d bson.Raw
}

// Transaction runs ops in one multi-document transaction on the shard:
// all of them or none, retried by the driver on a transient error within
// Timeout. It returns, per op, how many documents it inserted, matched (an
// upsert that inserted: 1) or deleted. Only replica sets and sharded
// clusters run transactions; other servers answer a *ServerError.
func (p *Pool) Transaction(ctx context.Context, shardID int32, ops []Op) ([]int32, error) {
	checked := make([]op, len(ops))
	for i, o := range ops {
		c := op{kind: o.Kind, table: o.Table}
		var err error
		switch o.Kind {
		case OpInsert:
			c.d, err = doc(fmt.Sprintf("ops[%d].doc", i), o.Doc)
		case OpUpdate, OpUpsert:
			if c.query, err = doc(fmt.Sprintf("ops[%d].query", i), o.Query); err == nil {
				c.d, err = doc(fmt.Sprintf("ops[%d].doc", i), o.Doc)
			}
		case OpDelete:
			c.query, err = doc(fmt.Sprintf("ops[%d].query", i), o.Query)
		default:
			err = fmt.Errorf("ops[%d]: %w: unknown kind %d", i, ErrBadArgument, o.Kind)
		}
		if err != nil {
			return nil, err
		}
		checked[i] = c
	}
	var counts []int32
	err := p.do(ctx, shardID, func(ctx context.Context, s *shard) error {
		sess, err := s.client.StartSession()
		if err != nil {
			return err
		}
		defer sess.EndSession(context.WithoutCancel(ctx))
		_, err = sess.WithTransaction(ctx, func(ctx context.Context) (any, error) {
			// A retry starts over.
			counts = counts[:0]
			for _, o := range checked {
				n, err := o.run(ctx, s)
				if err != nil {
					return nil, err
				}
				counts = append(counts, int32(n))
			}
			return nil, nil
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return counts, nil
}

// run runs o within the transaction of ctx.
func (o op) run(ctx context.Context, s *shard) (int64, error) {
	coll := s.db.Collection(o.table)
	switch o.kind {
	case OpInsert:
		_, err := coll.InsertOne(ctx, o.d)
		return 1, err
	case OpUpdate, OpUpsert:
		res, err := updateOne(ctx, coll, o.query, o.d, o.kind == OpUpsert)
		if err != nil {
			return 0, err
		}
		return res.MatchedCount + res.UpsertedCount, nil
	default:
		res, err := coll.DeleteOne(ctx, o.query)
		if err != nil {
			return 0, err
		}
		return res.DeletedCount, nil
	}
}
