// Package servant holds faed's servants, one leaf package each: services a
// client calls by name (through the Thrift front) rather than memcached
// commands. Each has a plain Go API, imports nothing else of fae's and knows
// neither Thrift nor memcached:
//
//   - idgen: 64-bit ids in fae's layout (time, tag, worker, sequence), strictly increasing per sidecar
//   - lcache: a local cache shared by every client of this sidecar, bounded in bytes
//   - lock: leases on keys, with a token and a time to live
//   - dlog: lines appended to per-ident files under data_dir, rotated by size, synced on a timer
//   - kvdb: a durable key-value store under data_dir (bbolt), synced before a write returns
package servant
