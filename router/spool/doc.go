// Package spool keeps the writes that a sidecar acknowledged for a server
// it could not reach, on disk, until a replayer has delivered them: a
// durable, ordered queue per server in one bbolt file.
//
//   - [Spool.Append] writes an [Op] (pool, server, key, the exact request
//     bytes to replay) and returns only once it is fsynced, with the
//     entry's sequence number; an error means nothing was kept, so the
//     caller must not acknowledge the write.
//   - Entries of a server come back in append order ([Spool.Next]), so the
//     writes to one key replay in the order they were acknowledged. An Op
//     marked Supersedes (an unconditional set or delete: the key's value
//     after it depends on nothing before it) removes the older entries of
//     its key on its server; any other write (add, replace, cas,
//     append, prepend, incr, decr, touch) queues behind them, since its
//     effect depends on what came before.
//   - [Spool.Ack] removes an entry the server confirmed; [Spool.Fail]
//     counts a try and, after MaxTries, moves the entry to the server's
//     dead-letter bucket, counted and logged, never dropped.
//   - [Spool.Replay] is the replayer: one loop per server, owned by the
//     caller's context, handing entries in order to a send function, with
//     backoff between tries.
//
// Delivery is at least once: a server that applied an entry whose Ack did
// not reach the disk (faed killed in between) gets it again on restart,
// which repeats an append or an incr.
package spool
