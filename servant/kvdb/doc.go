// Package kvdb is a durable key-value store in one file under the sidecar's
// data directory, <data_dir>/kvdb.db, on bbolt (go.etcd.io/bbolt).
//
// [Open] returns a [DB]; [DB.Set] and [DB.Del] return only after their write
// is committed and fsynced (bbolt's commit syncs; NoSync stays false), so a
// write acknowledged to a client survives a crash of faed or the host.
// Writes that arrive together share one commit: the DB's committer
// goroutine takes every write queued when it is free (up to [MaxBatch]) into
// one transaction and one fsync, so a lone write waits for no timer and many
// concurrent writes do not each pay for a sync. [DB.Get] reads the last
// committed value and returns a copy.
//
// Bounds: keys are 1 to [MaxKeyLen] bytes, values at most [MaxValueLen]
// bytes; past them [ErrBadKey] or [ErrTooLarge]. At most [MaxQueue] writes
// wait for the committer; more wait in their own call, until their context
// ends.
//
// Contexts: a call whose context ends before its write reaches the
// committer returns ctx's error and writes nothing; one whose context ends
// while its commit is under way returns ctx's error, and the write may or
// may not be applied (as database/sql's).
//
// Without a data directory (data_dir unset in faed's config) the DB keeps
// nothing: every call fails with [ErrNoDataDir]. Only one process may open
// the file: a second faed on the same data_dir fails to open it.
//
// The committer is the DB's own goroutine; [DB.Close] stops it after the
// queued writes and closes the file. Safe for concurrent use.
package kvdb
