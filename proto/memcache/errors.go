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
type Error struct {
	// Reply is the error line without "\r\n" (e.g. "CLIENT_ERROR bad data
	// chunk"). Empty means send nothing.
	Reply string
	// Swallow is the number of bytes, after those that Parse consumed, that
	// the connection must discard before parsing again (the data block of a
	// refused storage command). The bytes may not have arrived yet.
	Swallow int
	// Close asks the server to close the connection after sending Reply.
	Close bool
}

func (e *Error) Error() string {
	if e.Reply == "" {
		return "memcache: protocol error"
	}
	return "memcache: " + e.Reply
}
