// Package lock hands out leases on keys: a client that takes a key's lease
// gets a token, and holds the key until it gives the lease back with that
// token or its time to live runs out. An expired lease is gone: another
// client may take the key, and the old token unlocks nothing.
//
// [New] returns a [Table]. [Table.Lock] takes a lease or reports that an
// unexpired one is held; [Table.Unlock] gives it back. Tokens are 128 random
// bits from crypto/rand, written in hex: unguessable, so only the holder can
// unlock. The table holds at most its maximum number of leases; expired ones
// are collected (in expiry order, from a heap) as soon as a Lock sees them,
// and past the maximum Lock fails with [ErrFull]. Time comes from an
// injected clock.
//
// Leases are kept in this sidecar's memory only: they do not survive a
// restart, and clients of another sidecar do not see them.
//
// Safe for concurrent use; starts no goroutines.
package lock
