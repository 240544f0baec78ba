package memcache

import "errors"

var (
	// ErrIncomplete is returned by Parse when the buffer does not yet hold a
	// whole request; nothing was consumed and the caller should wait for more
	// bytes.
	ErrIncomplete = errors.New("memcache: incomplete request")
)

// Error is a protocol error found while parsing. The server answers it and
// goes on with the connection, or closes it, as the fields say; it never
// crashes or hangs on bad input. Use errors.As to get one.
//
// Two errors have effects on the store that the caller must reproduce: a
// set refused with "SERVER_ERROR object too large for cache", or with
// [OutOfMemory] (Request.Cmd == CmdSet, Swallow > 0), makes memcached
// unlink the key's current item, so the caller deletes Request.Keys[0]; a gat or gats refused for a too-long key
// has already touched the keys before it, left in Request.Keys with
// Request.Exptime. Every other error leaves the store alone.
//
// Parse also uses an Error for one valid request whose answer needs no
// store: "gat <exptime>" without keys, answered "END", so that a retrieval
// Request always carries a key.
type Error struct {
	// Reply is the error line without "\r\n" (e.g. "CLIENT_ERROR bad data
	// chunk"). Empty means send nothing.
	Reply string
	// Swallow is the number of bytes, after those that Parse consumed, that
	// the connection must discard before parsing again (the data block of a
	// refused storage command). The bytes may not have arrived yet;
	// memcached sends Reply only once they have, which makes no difference
	// to the bytes the client reads.
	Swallow int
	// Close asks the server to close the connection after sending Reply.
	// memcached closes at once when Reply is empty: replies to earlier
	// pipelined requests that it had not written yet are lost ("quit", a
	// request and not an error, writes them first).
	Close bool
}

func (e *Error) Error() string {
	if e.Reply == "" {
		return "memcache: protocol error"
	}
	return "memcache: " + e.Reply
}
