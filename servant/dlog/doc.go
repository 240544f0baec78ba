// Package dlog appends clients' log lines to one file per ident under the
// sidecar's data directory, rotating the files by size and syncing them to
// disk on a timer.
//
// [Open] returns a [Log]; [Log.Write] (ident, tag, line) appends
//
//	<time, RFC 3339 with nanoseconds, UTC> <tag> <line>\n
//
// to <data_dir>/dlog/<ident>.log. A file that would pass the maximum file
// size is rotated first: <ident>.log becomes <ident>.log.1, .1 becomes .2,
// and so on, keeping at most the maximum number of files (the oldest is
// dropped); a line is never split between two files.
//
// Names: ident and tag are 1 to 128 bytes of ASCII letters, digits, '.',
// '_' and '-', not starting with '.'; anything else ("../x", "a/b", NUL,
// control bytes, spaces, the empty string) is refused with [ErrBadName], so
// nothing is ever written outside <data_dir>/dlog. The line is written as
// given (fae wrote its json argument unchecked, and so does this): any bytes
// but '\n' and '\r', which would forge a line of their own and are refused
// with [ErrBadLine], at most [MaxLineLen] bytes.
//
// Writes never wait for the disk. Write copies the line into the ident's
// buffer and returns; the Log's flusher goroutine writes buffers out as soon
// as they fill (a write that arrives while the flusher writes waits in the
// buffer and goes out with the next write: one system call for many lines),
// and fsyncs the files written since the last tick every sync interval. A
// line Write accepted is on disk after at most one sync interval, unless
// the process or the disk fails first.
//
// Bounds: the bytes accepted and not yet written, over all idents, are at
// most the Log's maximum buffered size: past it Write fails at once with
// [ErrBufferFull] (a slow or stuck disk gives errors, never unbounded
// memory or blocked callers). At most [MaxIdents] files are open; a file not
// written for [IdleTicks] sync intervals is closed, and opened again by the
// next write.
//
// Write errors: when writing or syncing an ident's file fails (a full disk:
// ENOSPC), the unwritten bytes stay buffered and every Write to that ident
// fails with an error that wraps [ErrWrite] and the cause (errors.Is(err,
// syscall.ENOSPC) holds) until a retry at a later sync tick succeeds. Other
// idents go on while their own writes succeed.
//
// Without a data directory (data_dir unset in faed's config) the Log keeps
// nothing: every Write fails with [ErrNoDataDir].
//
// The flusher is the Log's own goroutine; [Log.Close] stops it after a last
// flush and sync. Safe for concurrent use.
package dlog
