// Package mongo is a MongoDB pool: one long-lived, pooled
// go.mongodb.org/mongo-driver/v2 client per shard, and the calls of fae's
// mg_* methods on them (FindOne, FindAll, FindID, Count, Update, Upsert,
// Insert, Inserts, Delete, FindAndModify, Transaction), taking and
// returning BSON documents as bytes.
//
// A call names its shard by id; the shard is id modulo the number of
// shards, so an application may use more logical shard ids than there are
// servers (a negative id is refused). Each shard bounds the calls in
// flight to it by MaxConns, which is also its driver's connection pool
// size: a call that finds the shard at its limit fails at once with
// ErrLimit instead of queueing. Each shard has a circuit breaker that
// counts calls without an answer from the server (timeouts, refused
// connections) and, while open, refuses calls at once with
// ErrBreakerOpen. Every call is bounded by Timeout.
//
// Errors the server answered are a *ServerError with its code (11000 for a
// duplicate key); no matching document is ErrNotFound; a document that is
// not BSON is ErrBadBSON, found before anything is sent.
//
// Pool is safe for concurrent use; calls wait on the network, so callers
// run them off the event loops.
package mongo
