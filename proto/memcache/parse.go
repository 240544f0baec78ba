package memcache

import "bytes"

// Defaults of the Parser limits.
const (
	DefaultMaxKeyLen   = 250     // memcached's KEY_MAX_LENGTH
	DefaultMaxItemSize = 1 << 20 // memcached -I 1m
	DefaultMaxGetLine  = 1 << 20
)

const (
	// readBufSize is memcached's READ_BUFFER_SIZE. A command line must fit
	// in it, "\n" included, unless it is a get/gets.
	readBufSize = 16384
	// maxPartialLine is how many bytes memcached holds without seeing a
	// "\n" before it decides the line is junk (unless it is a get/gets).
	maxPartialLine = 2048
	// maxGetIndent is how many leading spaces a long get line may have.
	maxGetIndent = 100
	// itemHeaderSize is sizeof(item) on 64-bit plus the 8-byte cas, the
	// fixed part of memcached's item_size_ok.
	itemHeaderSize = 48 + 8
)

// Parser parses the memcached text protocol as memcached 1.6.18 does, reply
// for reply: what it accepts, the error line it sends for what it refuses,
// the bytes it discards and when it closes the connection. The zero value
// uses the defaults. A Parser is not modified by Parse and is safe for
// concurrent use.
type Parser struct {
	// MaxKeyLen is the longest key accepted (default 250).
	MaxKeyLen int
	// MaxItemSize is memcached's item_size_max, -I (default 1 MiB): a
	// storage command whose item would not fit is refused as too large.
	MaxItemSize int
	// MaxGetLine bounds a get/gets line, the only line memcached buffers
	// without limit (default 1 MiB; at least 16 KiB is always allowed).
	// A longer one gets memcached's own answer when it cannot grow its
	// buffer: "SERVER_ERROR out of memory reading request", then close.
	MaxGetLine int
}

func (p *Parser) maxKeyLen() int   { return orDefault(p.MaxKeyLen, DefaultMaxKeyLen) }
func (p *Parser) maxItemSize() int { return orDefault(p.MaxItemSize, DefaultMaxItemSize) }
func (p *Parser) maxGetLine() int {
	return max(orDefault(p.MaxGetLine, DefaultMaxGetLine), readBufSize)
}

func orDefault(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

// Parse parses one request from the front of buf into req and returns the
// number of bytes it used. req is reset first; its slices are views into buf
// (see [Request]). Parse does not allocate once req's slices have grown,
// except to return an *Error.
//
// When buf does not yet hold a whole request Parse returns (0, ErrIncomplete)
// and the caller waits for more bytes; Request.Need then says how many the
// request needs when its line says it. On a protocol error it returns an
// *Error and the number of bytes to drop now; the caller sends Error.Reply,
// drops Error.Swallow more bytes and closes if Error.Close says so, then
// parses on. req then holds what was parsed before the error (Cmd, Keys,
// NoReply...): see [Error] for the one case that needs acting on.
//
// A line without "\n" is waited for while it is at most 2048 bytes, or while
// it looks like a get/gets (up to MaxGetLine); otherwise the connection is
// closed, as memcached does. Because of that rule the answer to a line
// longer than 2048 bytes depends on how much of it has arrived, exactly as
// it does with memcached.
func (p *Parser) Parse(buf []byte, req *Request) (n int, err error) {
	req.Reset()
	nl := bytes.IndexByte(buf, '\n')
	if nl < 0 {
		return p.partialLine(buf)
	}
	if nl >= readBufSize {
		if !looksLikeGet(buf) {
			return len(buf), &Error{Close: true}
		}
		if nl >= p.maxGetLine() {
			return len(buf), &Error{Reply: errGetTooLong, Close: true}
		}
	}
	line := buf[:nl]
	if len(line) > 1 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	// memcached handles the line as a C string: it ends at the first NUL.
	if i := bytes.IndexByte(line, 0); i >= 0 {
		line = line[:i]
	}
	var t tokens
	t.split(line)
	return p.command(buf, nl+1, &t, req)
}

// partialLine decides about a buffer that holds no "\n" yet.
func (p *Parser) partialLine(buf []byte) (int, error) {
	if len(buf) <= maxPartialLine {
		return 0, ErrIncomplete
	}
	// memcached: "We didn't have a '\n' in the first few k. This _has_ to
	// be a large multiget, if not we should just nuke the connection."
	if !looksLikeGet(buf) {
		return len(buf), &Error{Close: true}
	}
	if len(buf) >= p.maxGetLine() {
		return len(buf), &Error{Reply: errGetTooLong, Close: true}
	}
	return 0, ErrIncomplete
}

// looksLikeGet is memcached's test for a line it lets grow past its read
// buffer: at most 100 leading spaces, then "get " or "gets ".
func looksLikeGet(buf []byte) bool {
	i := 0
	for i < len(buf) && buf[i] == ' ' {
		i++
	}
	if i > maxGetIndent {
		return false
	}
	b := buf[i:]
	return bytes.HasPrefix(b, []byte("get ")) || bytes.HasPrefix(b, []byte("gets "))
}
