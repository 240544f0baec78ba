package memcache

import "bytes"

// replyKind says how the reply to a request is framed.
type replyKind uint8

const (
	// kindLine is one line: storage, delete, incr/decr, touch, flush_all,
	// version.
	kindLine replyKind = iota
	// kindValues is zero or more VALUE blocks then "END\r\n", or an error
	// line (possibly after some blocks): get, gets, gat, gats.
	kindValues
	// kindMeta is one line, or "VA <size> <flags>*\r\n" and its data
	// block: the meta commands (meta.go).
	kindMeta
	// kindMetaFenced is meta replies up to and with "MN\r\n": a meta
	// command sent with q, then mn.
	kindMetaFenced
)

// maxLine bounds one reply line. memcached's longest is a VALUE line with a
// 250-byte key and three numbers; a longer one means the stream is not
// memcached's replies.
const maxLine = 1024

// maxValueLen bounds the data block a VALUE line may announce (memcached's
// item size limit is at most 1GB).
const maxValueLen = 1 << 30

// frame finds where one reply ends in a stream of replies. It is resumable:
// scan is called again with a longer b (the same reply start, more bytes)
// until done, and never looks at bytes past the reply.
type frame struct {
	kind replyKind
	// n is the length of the reply's complete lines and blocks so far;
	// the whole reply when done.
	n int
	// data is the length of the data block (with its "\r\n") that starts
	// at n, or 0 at a line start.
	data int
	// hits counts VALUE blocks.
	hits int
	// end reports that a kindValues reply ended with "END\r\n" (not an
	// error line).
	end  bool
	done bool
}

// scan advances f over b, which holds the reply from its first byte. It
// returns errBadReply when b cannot be the start of a memcached reply of
// f.kind; otherwise f.done tells whether the reply is complete.
func (f *frame) scan(b []byte) error {
	if f.kind == kindMeta || f.kind == kindMetaFenced {
		return f.scanMeta(b)
	}
	for !f.done {
		if f.data > 0 {
			if more, err := f.block(b); more || err != nil {
				return err
			}
			continue
		}
		line, err := f.line(b, len("0\r\n")) // the shortest: incr answering 0
		if line == nil {
			return err
		}
		if f.kind == kindLine {
			if retrievalLine(line) {
				return errBadReply
			}
			f.done = true
			return nil
		}
		switch {
		case bytes.HasPrefix(line, []byte("VALUE ")):
			n, ok := valueLen(line)
			if !ok {
				return errBadReply
			}
			f.data = n + 2
			f.hits++
		case string(line) == "END\r\n":
			f.end, f.done = true, true
		case isErrorLine(line):
			f.done = true
		default:
			return errBadReply
		}
	}
	return nil
}

// block steps over the pending data block (f.data bytes, "\r\n" included)
// at f.n; more is true while b does not hold all of it.
func (f *frame) block(b []byte) (more bool, err error) {
	end := f.n + f.data
	if len(b) < end {
		return true, nil
	}
	if b[end-2] != '\r' || b[end-1] != '\n' {
		return false, errBadReply
	}
	f.n, f.data = end, 0
	return false, nil
}

// line returns the line at f.n, "\r\n" included and at least minLen
// bytes long, and steps over it; nil (and no error) while b does not hold
// all of it.
func (f *frame) line(b []byte, minLen int) ([]byte, error) {
	i := bytes.IndexByte(b[f.n:], '\n')
	if i < 0 {
		if len(b)-f.n > maxLine {
			return nil, errBadReply
		}
		return nil, nil
	}
	line := b[f.n : f.n+i+1]
	if len(line) > maxLine || len(line) < minLen || line[len(line)-2] != '\r' {
		return nil, errBadReply
	}
	f.n += len(line)
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
