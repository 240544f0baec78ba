// Package hist counts durations in fixed power-of-two buckets with atomic
// adds ([H.Observe]: no lock, no allocation), so a histogram can be kept on
// a request path and read at scrape time ([H.AddTo]). Bucket i holds the
// durations up to [Bound](i); the last one has no bound.
package hist
