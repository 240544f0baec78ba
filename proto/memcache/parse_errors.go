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
