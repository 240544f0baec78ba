// Package router sends each request to the pool that owns its keys: the pool
// of the longest configured key prefix, or the default pool. A multi-key read
// whose keys live in several pools is split per pool and its replies merged
// back in the client's key order.
package router
