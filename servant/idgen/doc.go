// Package idgen makes 64-bit ids in fae's layout, strictly increasing for
// each [Generator], and decodes them.
//
// An id is, from the top bit down:
//
//	1 bit   0 (ids are positive int64s)
//	41 bits milliseconds since fae's epoch, 1388834974657 (2014-01-04T11:29:34.657Z); good until 2083
//	5 bits  tag, 0-31, chosen by the caller ([Generator.NextWithTag]; [Generator.Next] uses 0)
//	5 bits  worker, 0-31, one per sidecar (config idgen.worker_id)
//	12 bits sequence, 0-4095 within one millisecond
//
// Ids of one Generator are unique and strictly increasing in call order,
// whatever their tags. Ids of two Generators are unique only if their workers
// differ: a worker id must be unique among the sidecars that share an id
// space (at most 32 of them).
//
// # How ids stay increasing
//
// The generator keeps the last id it issued and makes each new id larger,
// from the clock's millisecond when the clock has moved past the last id's,
// otherwise from the last id's millisecond:
//
//   - same millisecond, same tag: the next sequence number;
//   - same millisecond, a larger tag: that tag, sequence 0;
//   - same millisecond, a smaller tag, or the sequence used up: the next
//     millisecond, sequence 0. The id's time then runs ahead of the clock.
//
// An id's time may run at most [MaxLead] ahead of the clock. A call that
// would need more waits for the clock to catch up, so a workload that keeps
// alternating tags within one millisecond is served at about one tag change
// per millisecond (2,000 to 4,000 ids/s for two tags taken at random), while
// one tag alone is served at up to 4,096 ids/ms. A clock that steps back is
// the same case: ids never go below the last one; the call waits (up to
// maxWait, or until its context ends) for the clock to come back, and fails
// with [ErrClockBack] if it does not.
//
// A new Generator starts its ids past its start time plus MaxLead, so a
// sidecar restarted on the same host never repeats the ids its previous run
// issued ahead of the clock (as long as the host's clock does not step back
// across the restart).
//
// Safe for concurrent use; no locks (one compare-and-swap per id); the
// generator starts no goroutines.
package idgen
