package memcache

// Lines that Parse answers with, as memcached 1.6.18 words them, without
// "\r\n".
const (
	errUnknown      = "ERROR"
	errBadFormat    = "CLIENT_ERROR bad command line format"
	errBadChunk     = "CLIENT_ERROR bad data chunk"
	errBadDelta     = "CLIENT_ERROR invalid numeric delta argument"
	errBadExptime   = "CLIENT_ERROR invalid exptime argument"
	errDeleteUsage  = "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]"
	errTooLarge     = "SERVER_ERROR object too large for cache"
	errOutOfMemory  = "SERVER_ERROR out of memory storing object"
	errGetTooLong   = "SERVER_ERROR out of memory reading request"
	errShutdown     = "ERROR: shutdown not enabled"
	errRefreshCerts = "Error TLS not enabled"
	replyEnd        = "END"
)

// replyErr is an error line that memcached suppresses when the command asked
// for noreply. It does so for every error found after it has seen the
// "noreply" token, and for none found before (wrong token counts).
func replyErr(reply string, noreply bool) *Error {
	if noreply {
		reply = ""
	}
	return &Error{Reply: reply}
}

// OutOfMemory returns memcached's answer to a storage command or ms it has
// no memory for, for the request Parse left incomplete in req (req.Need >
// 0) when the caller will not hold it: "SERVER_ERROR out of memory storing
// object" (nothing for a classic command with noreply; an ms says it even
// with q), with the whole request, command line and data block,
// swallowed. As when it is too large, an ms is made a set (req.Cmd) so
// that the caller unlinks its key (see [Error]).
func OutOfMemory(req *Request) *Error {
	e := replyErr(errOutOfMemory, req.NoReply)
	e.Swallow = req.Need
	if req.Cmd == CmdMetaSet {
		req.Cmd = CmdSet
	}
	return e
}
