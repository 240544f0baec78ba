package mongo

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	driver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// emptyDoc is the BSON empty document, which an empty argument stands for.
var emptyDoc = bson.Raw{5, 0, 0, 0, 0}

// doc checks that b is one whole BSON document; empty is the empty one.
// what names the argument in the error.
func doc(what string, b []byte) (bson.Raw, error) {
	if len(b) == 0 {
		return emptyDoc, nil
	}
	r := bson.Raw(b)
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w: %v", what, ErrBadBSON, err)
	}
	if n := int(binary.LittleEndian.Uint32(b)); n != len(b) {
		return nil, fmt.Errorf("%s: %w: %d bytes after the document", what, ErrBadBSON, len(b)-n)
	}
	return r, nil
}

// isUpdate reports whether change is an update document ($set, $inc...)
// rather than a replacement: its first key starts with '$'.
func isUpdate(change bson.Raw) bool {
	e, err := change.IndexErr(0)
	return err == nil && strings.HasPrefix(e.Key(), "$")
}

// FindOne returns the first document of table matching query, with the
// projection fields when not empty; ErrNotFound when none matches.
func (p *Pool) FindOne(ctx context.Context, shardID int32, table string, query, fields []byte) ([]byte, error) {
	q, err := doc("query", query)
	if err != nil {
		return nil, err
	}
	opts := options.FindOne()
	if len(fields) > 0 {
		f, err := doc("fields", fields)
		if err != nil {
			return nil, err
		}
		opts.SetProjection(f)
	}
	var out bson.Raw
	err = p.do(ctx, shardID, func(ctx context.Context, s *shard) error {
		out, err = s.db.Collection(table).FindOne(ctx, q, opts).Raw()
		return err
	})
	return out, err
}

// FindID returns the document of table whose _id is the value of id's
// first element; ErrNotFound when there is none.
func (p *Pool) FindID(ctx context.Context, shardID int32, table string, id []byte) ([]byte, error) {
	d, err := doc("id", id)
	if err != nil {
		return nil, err
	}
	e, err := d.IndexErr(0)
	if err != nil {
		return nil, fmt.Errorf("id: %w: give the id as the first element of a document, e.g. {\"_id\": ObjectId(...)}", ErrBadArgument)
	}
	return p.FindOne(ctx, shardID, table, mustMarshal(bson.D{{Key: "_id", Value: e.Value()}}), nil)
}

// mustMarshal encodes d, which holds only values read from a valid
// document.
func mustMarshal(d bson.D) []byte {
	b, err := bson.Marshal(d)
	if err != nil {
		panic(err)
	}
	return b
}

// FindAll returns the documents of table matching query, each with the
// projection fields when not empty: skip of them skipped, at most limit
// (0: no limit), sorted by orderBy ("field" or "+field" ascending, "-field"
// descending, by precedence). ErrTooLarge when they add up to more than
// MaxResultBytes.
func (p *Pool) FindAll(ctx context.Context, shardID int32, table string, query, fields []byte, limit, skip int32, orderBy []string) ([][]byte, error) {
	q, err := doc("query", query)
	if err != nil {
		return nil, err
	}
	if limit < 0 || skip < 0 {
		return nil, fmt.Errorf("limit %d, skip %d: %w: they are 0 or more", limit, skip, ErrBadArgument)
	}
	opts := options.Find().SetLimit(int64(limit)).SetSkip(int64(skip))
	if len(fields) > 0 {
		f, err := doc("fields", fields)
		if err != nil {
			return nil, err
		}
		opts.SetProjection(f)
	}
	if len(orderBy) > 0 {
		sort := make(bson.D, 0, len(orderBy))
		for _, o := range orderBy {
			dir := 1
			switch {
			case strings.HasPrefix(o, "-"):
				o, dir = o[1:], -1
			case strings.HasPrefix(o, "+"):
				o = o[1:]
			}
			if o == "" {
				return nil, fmt.Errorf("orderBy: %w: an empty field", ErrBadArgument)
			}
			sort = append(sort, bson.E{Key: o, Value: dir})
		}
		opts.SetSort(sort)
	}
	var out [][]byte
	err = p.do(ctx, shardID, func(ctx context.Context, s *shard) error {
		out = out[:0]
		cur, err := s.db.Collection(table).Find(ctx, q, opts)
		if err != nil {
			return err
		}
		defer cur.Close(context.WithoutCancel(ctx))
		size := 0
		for cur.Next(ctx) {
			size += len(cur.Current)
			if size > p.cfg.MaxResultBytes {
				return fmt.Errorf("%w: over %d bytes (max_thrift_frame): ask for fewer with limit", ErrTooLarge, p.cfg.MaxResultBytes)
			}
			out = append(out, append([]byte(nil), cur.Current...))
		}
		return cur.Err()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Count returns the number of documents of table matching query (at most
// the largest int32).
func (p *Pool) Count(ctx context.Context, shardID int32, table string, query []byte) (int32, error) {
	q, err := doc("query", query)
	if err != nil {
		return 0, err
	}
	var n int64
	err = p.do(ctx, shardID, func(ctx context.Context, s *shard) error {
		n, err = s.db.Collection(table).CountDocuments(ctx, q)
		return err
	})
	return int32(min(n, math.MaxInt32)), err
}

// Update applies change to the first document of table matching query:
// an update document ($set, $inc...) or a whole replacement. It reports
// whether a document matched.
func (p *Pool) Update(ctx context.Context, shardID int32, table string, query, change []byte) (bool, error) {
	return p.update(ctx, shardID, table, query, change, false)
}

// Upsert is Update inserting a document when none matches.
func (p *Pool) Upsert(ctx context.Context, shardID int32, table string, query, change []byte) (bool, error) {
	return p.update(ctx, shardID, table, query, change, true)
}

func (p *Pool) update(ctx context.Context, shardID int32, table string, query, change []byte, upsert bool) (bool, error) {
	q, err := doc("query", query)
	if err != nil {
		return false, err
	}
	c, err := doc("change", change)
	if err != nil {
		return false, err
	}
	var res *driver.UpdateResult
	err = p.do(ctx, shardID, func(ctx context.Context, s *shard) error {
		res, err = updateOne(ctx, s.db.Collection(table), q, c, upsert)
		return err
	})
	if err != nil {
		return false, err
	}
	return res.MatchedCount > 0 || res.UpsertedCount > 0, nil
}

func updateOne(ctx context.Context, coll *driver.Collection, q, c bson.Raw, upsert bool) (*driver.UpdateResult, error) {
	if isUpdate(c) {
		return coll.UpdateOne(ctx, q, c, options.UpdateOne().SetUpsert(upsert))
	}
	return coll.ReplaceOne(ctx, q, c, options.Replace().SetUpsert(upsert))
}

// Insert inserts doc into table; the server's driver adds an _id when it
// has none.
func (p *Pool) Insert(ctx context.Context, shardID int32, table string, document []byte) error {
	d, err := doc("doc", document)
	if err != nil {
		return err
	}
	return p.do(ctx, shardID, func(ctx context.Context, s *shard) error {
		_, err := s.db.Collection(table).InsertOne(ctx, d)
		return err
	})
}

// Inserts inserts docs into table in order, stopping at the first that
// fails.
func (p *Pool) Inserts(ctx context.Context, shardID int32, table string, docs [][]byte) error {
	if len(docs) == 0 {
		return fmt.Errorf("docs: %w: no documents", ErrBadArgument)
	}
	ds := make([]any, len(docs))
	for i, b := range docs {
		d, err := doc(fmt.Sprintf("docs[%d]", i), b)
		if err != nil {
			return err
		}
		ds[i] = d
	}
	return p.do(ctx, shardID, func(ctx context.Context, s *shard) error {
		_, err := s.db.Collection(table).InsertMany(ctx, ds)
		return err
	})
}

// Delete deletes the first document of table matching query and reports
// whether there was one.
func (p *Pool) Delete(ctx context.Context, shardID int32, table string, query []byte) (bool, error) {
	q, err := doc("query", query)
	if err != nil {
		return false, err
	}
	var n int64
	err = p.do(ctx, shardID, func(ctx context.Context, s *shard) error {
		res, err := s.db.Collection(table).DeleteOne(ctx, q)
		if err == nil {
			n = res.DeletedCount
		}
		return err
	})
	return n > 0, err
}

// FindAndModify updates (an update document or a replacement), or with
// remove deletes, the first document of table matching query, and returns
// it as it was, or as it is after the update with returnNew. With upsert
// it inserts a document when none matches. ErrNotFound when no document
// matched and none is returned (an upsert without returnNew included).
func (p *Pool) FindAndModify(ctx context.Context, shardID int32, table string, query, change []byte, upsert, remove, returnNew bool) ([]byte, error) {
	q, err := doc("query", query)
	if err != nil {
		return nil, err
	}
	var c bson.Raw
	if !remove {
		if c, err = doc("change", change); err != nil {
			return nil, err
		}
	}
	ret := options.Before
	if returnNew {
		ret = options.After
	}
	var out bson.Raw
	err = p.do(ctx, shardID, func(ctx context.Context, s *shard) error {
		coll := s.db.Collection(table)
		var r *driver.SingleResult
		switch {
		case remove:
			r = coll.FindOneAndDelete(ctx, q)
		case isUpdate(c):
			r = coll.FindOneAndUpdate(ctx, q, c, options.FindOneAndUpdate().SetUpsert(upsert).SetReturnDocument(ret))
		default:
			r = coll.FindOneAndReplace(ctx, q, c, options.FindOneAndReplace().SetUpsert(upsert).SetReturnDocument(ret))
		}
		out, err = r.Raw()
		return err
	})
	return out, err
}
