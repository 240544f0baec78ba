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
}
