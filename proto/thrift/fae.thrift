// fae.thrift: the Thrift interface of faed, served on the memcached port
// (a connection whose first byte is 0x00 speaks framed TBinaryProtocol).
//
// This file is a contract: other tools depend on the names and field ids.
// Never renumber or rename a field, argument or method; add new ones with
// new ids. Regenerate the Go and Python code with `make thrift`.

namespace go fae
namespace py fae

// Context travels as the first argument of every call but noop.
struct Context {
  1: required i64 rid,      // request id, for logs and traces
  2: required string reason, // who calls and why, for logs
  3: required i64 uid,      // user id the call is made for, 0 when none
  4: optional bool sticky,  // reserved for peer routing: keep calls of this uid on one faed
}

// TMemcacheData is a memcached item: its value and its client flags.
struct TMemcacheData {
  1: required binary data,
  2: required i32 flags,
}

// TCacheMissed is thrown by the getters when the key holds nothing.
exception TCacheMissed {
  11: optional string message,
}

// TServantError is thrown when a servant cannot do what it was asked:
// an id generator whose clock stepped back, a dlog ident refused or a full
// disk, a kvdb disk error, an unknown memcache pool or an upstream failure,
// a lock table full. It is result field 2 of every method that declares
// it, so field 1 stays TCacheMissed where a method has one.
exception TServantError {
  1: string message,
}

// TMongoNotFound is thrown by the mg_* reads when no document matches.
exception TMongoNotFound {
  1: optional string message,
}

// TMongoError is an error the MongoDB server answered, with its code (for
// example 11000 for a duplicate key) and message. An error without an
// answer from the server (timeout, connection refused, a shard's breaker
// open, a pool at max_conns, a document that is not BSON, an unknown pool)
// is a TServantError instead. It is result field 3 of every mg_* method.
exception TMongoError {
  1: i32 code,
  2: string message,
}

// TMongoOpKind is what one write of mg_transaction does.
enum TMongoOpKind {
  INSERT = 1, // insert doc
  UPDATE = 2, // update the first document matching query with doc
  UPSERT = 3, // the same, inserting when none matches
  DELETE = 4, // delete the first document matching query
}

// TMongoOp is one write of mg_transaction, on the collection table.
struct TMongoOp {
  1: required TMongoOpKind kind,
  2: required string table,
  3: optional binary query, // UPDATE, UPSERT, DELETE: a BSON document
  4: optional binary doc,   // INSERT: the document; UPDATE, UPSERT: the change
}

service FunServant {
  // ping returns faed's version.
  string ping(1: Context c),

  // noop returns x.
  i32 noop(1: i32 x),

  // id_next returns a new 64-bit id: time, tag 0, worker, sequence.
  i64 id_next(1: Context c) throws (2: TServantError err),

  // id_next_with_tag returns a new id carrying tag.
  i64 id_next_with_tag(1: Context c, 2: i16 tag) throws (2: TServantError err),

  // id_decode splits an id into [ms since epoch, tag, worker, seq].
  list<i64> id_decode(1: Context c, 2: i64 id),

  // lc_*: the local (this host's) cache.
  bool lc_set(1: Context c, 2: string key, 3: binary value),
  binary lc_get(1: Context c, 2: string key) throws (1: TCacheMissed miss),
  void lc_del(1: Context c, 2: string key),

  // mc_*: a memcache pool by name.
  bool mc_set(1: Context c, 2: string pool, 3: string key, 4: TMemcacheData value, 5: i32 expiration)
    throws (2: TServantError err),
  bool mc_add(1: Context c, 2: string pool, 3: string key, 4: TMemcacheData value, 5: i32 expiration)
    throws (2: TServantError err),
  TMemcacheData mc_get(1: Context c, 2: string pool, 3: string key)
    throws (1: TCacheMissed miss, 2: TServantError err),
  bool mc_delete(1: Context c, 2: string pool, 3: string key) throws (2: TServantError err),
  i64 mc_increment(1: Context c, 2: string pool, 3: string key, 4: i64 delta)
    throws (2: TServantError err),

  // lock returns a token, or "" when another holds the key; unlock returns
  // false for a wrong token or an expired lock.
  string lock(1: Context c, 2: string key, 3: i32 ttl_ms) throws (2: TServantError err),
  bool unlock(1: Context c, 2: string key, 3: string token),

  // dlog appends json to the log named ident, under tag.
  void dlog(1: Context c, 2: string ident, 3: string tag, 4: string json)
    throws (2: TServantError err),

  // kvdb_*: the persistent key-value store of this host.
  bool kvdb_set(1: Context c, 2: binary key, 3: binary value) throws (2: TServantError err),
  binary kvdb_get(1: Context c, 2: binary key)
    throws (1: TCacheMissed miss, 2: TServantError err),
  bool kvdb_del(1: Context c, 2: binary key) throws (2: TServantError err),

  // mg_*: a MongoDB pool by name (kind: mongo); shardId picks the shard
  // (shardId modulo the number of shards), table is the collection.
  // Documents, queries, projections and changes are BSON documents; an
  // empty binary is the empty document.

  // mg_find_one returns the first document matching query, with fields
  // (a projection) when not empty.
  binary mg_find_one(1: Context c, 2: string pool, 3: string table, 4: i32 shardId, 5: binary query,
    6: binary fields) throws (1: TMongoNotFound miss, 2: TServantError err, 3: TMongoError mgErr),

  // mg_find_all returns the documents matching query, skipping skip,
  // at most limit of them (0: no limit), sorted by orderBy ("field"
  // ascending, "-field" descending, in order of precedence).
  list<binary> mg_find_all(1: Context c, 2: string pool, 3: string table, 4: i32 shardId, 5: binary query,
    6: binary fields, 7: i32 limit, 8: i32 skip, 9: list<string> orderBy)
    throws (2: TServantError err, 3: TMongoError mgErr),

  // mg_find_id returns the document whose _id is the value of the first
  // element of id (a BSON document such as {"_id": ObjectId(...)}).
  binary mg_find_id(1: Context c, 2: string pool, 3: string table, 4: i32 shardId, 5: binary id)
    throws (1: TMongoNotFound miss, 2: TServantError err, 3: TMongoError mgErr),

  // mg_count returns the number of documents matching query.
  i32 mg_count(1: Context c, 2: string pool, 3: string table, 4: i32 shardId, 5: binary query)
    throws (2: TServantError err, 3: TMongoError mgErr),

  // mg_update applies change to the first document matching query: an
  // update document ($set, $inc...) or a whole replacement. It returns
  // false when no document matches.
  bool mg_update(1: Context c, 2: string pool, 3: string table, 4: i32 shardId, 5: binary query,
    6: binary change) throws (2: TServantError err, 3: TMongoError mgErr),

  // mg_upsert is mg_update inserting a document when none matches; it
  // returns true.
  bool mg_upsert(1: Context c, 2: string pool, 3: string table, 4: i32 shardId, 5: binary query,
    6: binary change) throws (2: TServantError err, 3: TMongoError mgErr),

  // mg_insert inserts doc (an _id is added when it has none).
  bool mg_insert(1: Context c, 2: string pool, 3: string table, 4: i32 shardId, 5: binary doc)
    throws (2: TServantError err, 3: TMongoError mgErr),

  // mg_inserts inserts docs in order, stopping at the first that fails.
  bool mg_inserts(1: Context c, 2: string pool, 3: string table, 4: i32 shardId, 5: list<binary> docs)
    throws (2: TServantError err, 3: TMongoError mgErr),

  // mg_delete deletes the first document matching query; it returns false
  // when none matches.
  bool mg_delete(1: Context c, 2: string pool, 3: string table, 4: i32 shardId, 5: binary query)
    throws (2: TServantError err, 3: TMongoError mgErr),

  // mg_find_and_modify updates (or, with remove, deletes) the first
  // document matching query and returns it as it was before, or after
  // with returnNew; with upsert it inserts one when none matches.
  binary mg_find_and_modify(1: Context c, 2: string pool, 3: string table, 4: i32 shardId,
    5: binary query, 6: binary change, 7: bool upsert, 8: bool remove, 9: bool returnNew)
    throws (1: TMongoNotFound miss, 2: TServantError err, 3: TMongoError mgErr),

  // mg_transaction runs ops in one multi-document transaction on the
  // shard: all of them or none. It returns, per op, how many documents it
  // inserted, matched (update, upsert: 1 when it inserted) or deleted.
  // MongoDB runs transactions on replica sets and sharded clusters only.
  list<i32> mg_transaction(1: Context c, 2: string pool, 3: i32 shardId, 4: list<TMongoOp> ops)
    throws (2: TServantError err, 3: TMongoError mgErr),
}
