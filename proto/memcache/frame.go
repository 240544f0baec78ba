package memcache

import (
	"bytes"
	"errors"
)

// Reading a server's replies: a client that pipelines requests (a pool)
// frames each reply out of the stream it reads, knowing only which kind of
// reply its oldest request expects. Nothing here allocates.

// FrameKind says how the reply to a request is framed.
type FrameKind uint8

const (
	// FrameLine is one line: storage, delete, incr/decr, touch, flush_all,
	// version.
	FrameLine FrameKind = iota
	// FrameValues is zero or more VALUE blocks then "END\r\n", or an error
	// line (possibly after some blocks): get, gets, gat, gats.
	FrameValues
	// FrameMeta is one line, or "VA <size> <flags>*\r\n" and its data
	// block: the meta commands.
	FrameMeta
	// FrameMetaFenced is meta replies up to and with "MN\r\n": a meta
	// command sent with q, then mn (see Meta.Loud).
	FrameMetaFenced
)

// ErrBadReply is returned by Frame.Scan when the bytes from a server cannot
// be memcached's reply to the request at the head of the queue: the stream
// is out of step, and a client must close the connection rather than hand
// a reply to the wrong request.
var ErrBadReply = errors.New("memcache: bad reply from server")

// maxLine bounds one reply line. memcached's longest is a VALUE line with a
// 250-byte key and three numbers; a longer one means the stream is not
// memcached's replies.
const maxLine = 1024

// maxValueLen bounds the data block a VALUE line may announce (memcached's
// item size limit is at most 1GB).
const maxValueLen = 1 << 30

// Frame finds where one reply ends in a stream of replies. It is resumable:
// Scan is called again with a longer b (the same reply start, more bytes)
// until Done, and never looks at bytes past the reply. The zero value with
// Kind set is ready to use.
type Frame struct {
	Kind FrameKind
	// N is the length of the reply's complete lines and blocks so far;
	// the whole reply when Done.
	N int
	// Data is the length of the data block (with its "\r\n") that starts
	// at N, or 0 at a line start: a reader may wait for N+Data bytes
	// before scanning again.
	Data int
	// Hits counts VALUE (or VA) blocks.
	Hits int
	// End reports that a FrameValues reply ended with "END\r\n" (not an
	// error line).
	End bool
	// Done reports that the reply is complete: it is b[:N].
	Done bool
}

// Scan advances f over b, which holds the reply from its first byte. It
// returns ErrBadReply when b cannot be the start of a memcached reply of
// f.Kind; otherwise f.Done tells whether the reply is complete.
func (f *Frame) Scan(b []byte) error {
	if f.Kind == FrameMeta || f.Kind == FrameMetaFenced {
		return f.scanMeta(b)
	}
	for !f.Done {
		if f.Data > 0 {
			if more, err := f.block(b); more || err != nil {
				return err
			}
			continue
		}
		line, err := f.line(b, len("0\r\n")) // the shortest: incr answering 0
		if line == nil {
			return err
		}
		if f.Kind == FrameLine {
			if retrievalLine(line) {
				return ErrBadReply
			}
			f.Done = true
			return nil
		}
		switch {
		case bytes.HasPrefix(line, []byte("VALUE ")):
			n, ok := valueLen(line)
			if !ok {
				return ErrBadReply
			}
			f.Data = n + 2
			f.Hits++
		case string(line) == "END\r\n":
			f.End, f.Done = true, true
		case isErrorLine(line):
			f.Done = true
		default:
			return ErrBadReply
		}
	}
	return nil
}

// block steps over the pending data block (f.Data bytes, "\r\n" included)
// at f.N; more is true while b does not hold all of it.
func (f *Frame) block(b []byte) (more bool, err error) {
	end := f.N + f.Data
	if len(b) < end {
		return true, nil
	}
	if b[end-2] != '\r' || b[end-1] != '\n' {
		return false, ErrBadReply
	}
	f.N, f.Data = end, 0
	return false, nil
}

// line returns the line at f.N, "\r\n" included and at least minLen
// bytes long, and steps over it; nil (and no error) while b does not hold
// all of it.
func (f *Frame) line(b []byte, minLen int) ([]byte, error) {
	i := bytes.IndexByte(b[f.N:], '\n')
	if i < 0 {
		if len(b)-f.N > maxLine {
			return nil, ErrBadReply
		}
		return nil, nil
	}
	line := b[f.N : f.N+i+1]
	if len(line) > maxLine || len(line) < minLen || line[len(line)-2] != '\r' {
		return nil, ErrBadReply
	}
	f.N += len(line)
	return line, nil
}

// retrievalLine reports whether line is one that only a retrieval's reply
// holds (VALUE …, END). The reply to any other request that starts with one
// is out of step with its request; passed on as one line, it would also
// leave the client reading the rest of a value that is not there.
func retrievalLine(line []byte) bool {
	return bytes.HasPrefix(line, []byte("VALUE ")) || string(line) == "END\r\n"
}

// isErrorLine reports whether line is ERROR, CLIENT_ERROR … or
// SERVER_ERROR …, the lines that may end a retrieval reply early.
func isErrorLine(line []byte) bool {
	return string(line) == "ERROR\r\n" ||
		bytes.HasPrefix(line, []byte("CLIENT_ERROR ")) ||
		bytes.HasPrefix(line, []byte("SERVER_ERROR "))
}

// valueLen returns the <bytes> field of "VALUE <key> <flags> <bytes>
// [<cas>]\r\n".
func valueLen(line []byte) (int, bool) {
	rest := line[len("VALUE ") : len(line)-2]
	// Skip key and flags: the length is the third field.
	for range 2 {
		sp := bytes.IndexByte(rest, ' ')
		if sp <= 0 {
			return 0, false
		}
		rest = rest[sp+1:]
	}
	return lenField(rest)
}

// lenField reads the decimal length that starts fields (up to the next
// space), refusing anything above maxValueLen.
func lenField(fields []byte) (int, bool) {
	if sp := bytes.IndexByte(fields, ' '); sp >= 0 {
		fields = fields[:sp]
	}
	if len(fields) == 0 {
		return 0, false
	}
	n := 0
	for _, c := range fields {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
		if n > maxValueLen {
			return 0, false
		}
	}
	return n, true
}

// scanMeta frames a meta reply: one line ("HD …", "EN", "NF …", "NS …",
// "EX …", "ME …" or an error line), or "VA <size> <flags>*\r\n" followed by
// <size> bytes and "\r\n"; for FrameMetaFenced, such replies up to and with
// "MN\r\n". Like Scan, it is resumable.
func (f *Frame) scanMeta(b []byte) error {
	for !f.Done {
		if f.Data > 0 {
			if more, err := f.block(b); more || err != nil {
				return err
			}
			f.Done = f.Kind == FrameMeta
			continue
		}
		line, err := f.line(b, len("HD\r\n"))
		if line == nil {
			return err
		}
		if retrievalLine(line) {
			return ErrBadReply
		}
		if bytes.HasPrefix(line, []byte("VA ")) {
			n, ok := vaLen(line)
			if !ok {
				return ErrBadReply
			}
			f.Data = n + 2
			f.Hits++
			continue
		}
		f.Done = f.Kind == FrameMeta || string(line) == ReplyMetaNoop
	}
	return nil
}

// vaLen returns the <size> of "VA <size> <flags>*\r\n".
func vaLen(line []byte) (int, bool) {
	return lenField(line[len("VA ") : len(line)-2])
}

// Unfence strips the "MN\r\n" that ends a FrameMetaFenced reply; nil when
// nothing precedes it.
func Unfence(reply []byte) []byte {
	reply = reply[:len(reply)-len(ReplyMetaNoop)]
	if len(reply) == 0 {
		return nil
	}
	return reply
}
